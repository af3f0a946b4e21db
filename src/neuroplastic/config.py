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
    evaluators: []             # measured after each task besides accuracy (evaluators/)
    seed: 0
    device: cpu
    threads: null              # torch intra-op threads (null: torch's default)

A block given as a plain string is its name (``method: ewc``). Overrides use dotted keys and YAML
values: ``method.lambda_=100``, ``train.epochs=3``, ``model.hidden=[100,100]``.
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
    "evaluators": [],
    "seed": 0,
    "device": "cpu",
    "threads": None,
}
NAMED_BLOCKS = ("benchmark", "model", "method", "optimizer")
#: named blocks that have no null form (model and optimizer: null means the method's default)
REQUIRED_BLOCKS = ("benchmark", "method")


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int, second: int):
        super().__init__(key, first, second)
        self.key, self.first, self.second = key, first, second


class StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that rejects a key written twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a config with ``lr`` written
    twice runs with whichever came last. Keys merged in with ``<<: *anchor`` may still be
    overridden: only the keys written in the mapping itself are compared.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML's own error names it
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise _DuplicateKey(key, first, line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text strictly (see :class:`StrictLoader`); ``where`` names its source in
    errors (a file, or the override it came from)."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as dup:
        raise ConfigError(
            f"{where}: key {dup.key!r} is given twice (lines {dup.first} and {dup.second}); "
            "keep only one of them"
        ) from None
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines (problem, context, marks): keep it on one
        detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ConfigError(f"{where} is not valid YAML: {detail}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    where = f"config file {str(path)!r}"
    if not path.exists():
        raise ConfigError(f"{where} does not exist")
    if path.is_dir():
        raise ConfigError(f"{where} is a folder; give the path of a YAML file in it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not a UTF-8 text file (is it a YAML config?)") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror or exc}") from None
    data = parse_yaml(text, where) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping at the top level")
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
    for key in REQUIRED_BLOCKS:
        # ``method=`` (an empty value) would otherwise fall back to nothing and fail later
        block = out.get(key, {})
        if key in out and (block is None or ("name" in block and block["name"] in (None, ""))):
            raise ConfigError(
                f"{key} is empty; name one (e.g. {key}={DEFAULTS[key]['name']}), or leave the "
                f"key out to get the default {DEFAULTS[key]['name']!r}"
            )
    for key in ("scenario", "head", "device"):
        value = out.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{key} must be a name, got {value!r}")
    if not isinstance(out.get("evaluators", []), list):
        raise ConfigError("evaluators must be a list of names or {name: ..., ...} mappings")
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
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(
            f"override {text!r}: {key.strip()!r} is not a config key (dotted names such as "
            "train.epochs)"
        )
    try:
        value = parse_yaml(raw, f"override {text!r}") if raw != "" else None
    except ConfigError as exc:
        if "given twice" in str(exc):
            raise
        value = raw  # not YAML (e.g. a path with a colon): the text itself
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
        # an override of one field keeps the rest of its block (method.lambda_=1 keeps the name)
        config = merge(config, parse_override(text))
    return normalise(config)
