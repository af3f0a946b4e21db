"""Run configuration: YAML files, ``key=value`` overrides, defaults and strict validation.

A config is a mapping with these top-level keys (all optional; defaults below)::

    benchmark: {name: split-digits, ...benchmark settings}   # or a path to your own data
    scenario: class            # task | domain | class
    head: null                 # multi | masked | growing | shared (null: the scenario's default)
    model: null                # {name: mlp, hidden: [400, 400]} (null: method's, then benchmark's)
    method: {name: finetune, ...hyper-parameters}
    optimizer: null            # {name: adam, lr: 0.001, reset: never} (null: method's default)
    train: {epochs: 1, iterations: null, batch_size: 128, eval_batch_size: 1000}
    transforms: []             # [{name: poison, tasks: [1]}, ...]
    seed: 0
    device: cpu
    threads: null              # torch intra-op threads (null: torch's default)

A block given as a plain string is its name (``method: ewc``). Overrides use dotted keys and YAML
values: ``method.lambda=100``, ``train.epochs=3``, ``model.hidden=[100,100]``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, UnknownNameError

DEFAULTS: dict[str, Any] = {
    "benchmark": {"name": "split-digits"},
    "scenario": "class",
    "head": None,
    "model": None,
    "method": {"name": "finetune"},
    "optimizer": None,
    "train": {},
    "transforms": [],
    "seed": 0,
    "device": "cpu",
    "threads": None,
}
NAMED_BLOCKS = ("benchmark", "model", "method", "optimizer")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
    return data


def normalise(config: dict[str, Any]) -> dict[str, Any]:
    """Check the top-level keys and expand ``name`` shorthands into ``{name: ...}`` blocks."""
    out = copy.deepcopy(config)
    for key in out:
        if key not in DEFAULTS:
            raise UnknownNameError("config key", key, list(DEFAULTS))
    for key in NAMED_BLOCKS:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = {"name": value}
        elif value is not None and not isinstance(value, dict):
            raise ConfigError(f"{key} must be a name or a mapping with a 'name', got {value!r}")
    if not isinstance(out.get("transforms", []), list):
        raise ConfigError("transforms must be a list of {name: ..., ...} mappings")
    return out


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``. A block whose ``name`` changes is replaced
    rather than merged, so settings of one method never leak into another."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        old = out.get(key)
        if (
            isinstance(value, dict)
            and isinstance(old, dict)
            and ("name" not in value or value.get("name") == old.get("name"))
        ):
            out[key] = merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``a.b=value`` (value parsed as YAML) -> ``{'a': {'b': value}}``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. train.epochs=3)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError:
        value = raw
    parts = key.strip().split(".")
    if parts[0] in NAMED_BLOCKS and len(parts) == 1 and isinstance(value, str):
        return {parts[0]: {"name": value}}
    node: dict[str, Any] = {}
    cur = node
    for part in parts[:-1]:
        cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value
    return node


def load(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Defaults, then ``base``, then the YAML file, then ``key=value`` overrides."""
    config = normalise(DEFAULTS)
    if base:
        config = merge(config, normalise(base))
    if path is not None:
        config = merge(config, normalise(read_yaml(path)))
    for text in overrides or []:
        # an override of one field keeps the rest of its block (method.lambda=1 keeps the name)
        config = merge(config, parse_override(text))
    return normalise(config)
