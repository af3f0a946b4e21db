"""neuroplastic: brain-inspired continual learning, next to standard baselines, on real data.

The Python API mirrors the command line::

    import neuroplastic as npl
    record = npl.run({"benchmark": "split-mnist", "scenario": "class", "method": "ewc"})
    print(record["metrics"]["average_accuracy"])

Importing the package does nothing else: no downloads, no seeding, no registration until a
name is first looked up.
"""

__version__ = "0.1.0"


def run(config=None, overrides=None, **kwargs):
    """Run one configuration (a dict or a YAML path) and return its run record (a dict)."""
    from .experiment import run as _run

    return _run(config, overrides=overrides, **kwargs)


def list_components():
    """Names and one-line summaries of every method, benchmark, model, optimizer, transform."""
    from .experiment import catalogue

    return catalogue()


__all__ = ["__version__", "run", "list_components"]
