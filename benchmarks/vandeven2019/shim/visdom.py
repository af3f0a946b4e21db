"""Stand-in for visdom (only imported by van de Ven's plotting module; never used here)."""


class Visdom:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("visdom plots are not available in this shim; leave out --visdom")
