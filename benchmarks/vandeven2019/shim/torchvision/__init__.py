"""The few parts of torchvision van de Ven's 2019 code uses, in plain torch (see ../../run.py)."""
