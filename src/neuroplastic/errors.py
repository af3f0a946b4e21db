"""User-facing errors: the CLI prints these as one clear message, never a bare traceback."""

from __future__ import annotations


class NeuroplasticError(Exception):
    """Base class of every error caused by user input (names, config, data, settings)."""


class UnknownNameError(NeuroplasticError, KeyError):
    """A name (method, benchmark, scenario, config key, ...) that does not exist."""

    def __init__(self, kind: str, name: object, choices: list[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(self.choices)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class ConfigError(NeuroplasticError, ValueError):
    """A config value of the wrong type or an impossible combination of settings."""


class DataNotFoundError(NeuroplasticError, FileNotFoundError):
    """A data file that is not on disk and could not be downloaded."""


class DataError(NeuroplasticError, ValueError):
    """Data that is on disk but unusable: non-finite values, empty splits, classes or widths
    that do not match between train and test. The message names the data set, the task and the
    fix."""


class OutputError(NeuroplasticError, OSError):
    """An output location that cannot be written (a file where a folder is needed, a read-only
    folder, a full disk), found before any training starts."""


class DamagedFileError(NeuroplasticError, ValueError):
    """A file written by neuroplastic (a run record) that does not parse or lacks required
    fields, e.g. after a crash of the machine or an edit by hand."""


class CheckpointError(NeuroplasticError, ValueError):
    """A checkpoint that cannot be resumed from: damaged, written by another version or another
    method, or holding anything but plain data (a pickled object is refused, never run). The
    message names the file and the fix."""
