"""Typed hyper-parameter blocks: dataclasses built from YAML mappings, with strict keys.

Every component (method, model, optimizer, benchmark, transform) declares its settings as a
dataclass whose fields carry defaults and whose docstrings cite their source. ``build`` turns a
mapping from a config file into such a dataclass, rejecting unknown keys with the valid ones and
coercing YAML scalars to the declared type (``1`` to ``1.0`` for a float field, and so on).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import ConfigError, UnknownNameError


def build(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if values is not None and not isinstance(values, dict):
        raise ConfigError(
            f"{where} must be a mapping of settings (e.g. {{{next(iter(fields), 'key')}: ...}}), "
            f"got {values!r}"
        )
    # a field named after a Python keyword carries a trailing underscore (lambda_); the config
    # may spell it either way
    values = {
        (f"{k}_" if k not in fields and f"{k}_" in fields else k): v
        for k, v in (values or {}).items()
    }
    for key in values:
        if key not in fields:
            raise UnknownNameError(f"config key in {where}", key, list(fields))
    hints = typing.get_type_hints(cls)
    kwargs = {k: coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    check = getattr(obj, "validate", None)
    if check is not None:
        check()
    return obj


def to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Coerce a YAML value to a type hint, or raise ConfigError naming the key."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} does not fit {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise UnknownNameError(f"value for {where}", value, [str(a) for a in args])
        return value
    if origin is tuple and args and Ellipsis not in args:
        # a fixed-length tuple (Adam's betas): the length is part of the type
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        items = [coerce(v, inner, where) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if number != number:  # NaN: never a meaningful setting, and it poisons every step
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return number
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(float(value)) if float(value).is_integer() else int(value)
            except (ValueError, OverflowError):
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value
