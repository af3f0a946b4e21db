"""Sets of experiments, above the one-run core (``experiment.run``: config -> run record).

- ``sweep``: the protocol file (name, base, rows, grid, seeds, overrides, evaluators, targets,
  claims, report), strictly validated, and the one runner (local process pool or Ray; finished
  runs skipped by config hash, failed runs recorded);
- ``reproduce``: committed protocols by name, their targets compared with the records;
- ``report``: the one reporter (folder reports, a protocol's rows table, plots, tidy CSV),
  ``aggregate``: grouping records and mean ± sd over seeds;
- ``tune``: hyper-parameter search (Ray Tune) on validation data;
- ``atlas``: the synapse atlas drawn from run records.

The command line (``neuroplastic.cli``) calls these; nothing here parses arguments or prints.
"""
