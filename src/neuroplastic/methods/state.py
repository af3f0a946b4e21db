"""A method's state as plain data: what a checkpoint stores, loadable with ``weights_only=True``.

A checkpoint never pickles a ``Method`` object (loading a pickle runs whatever code it names,
and a renamed class or attribute would silently bring back a stale object). Instead every
attribute of the method is turned into data that ``torch.load(weights_only=True)`` accepts:
tensors, numbers, strings, lists, tuples and dicts of them. On resume the run builds a fresh
method from its config, exactly as an uninterrupted run does, and the saved data is loaded
*into* it: a module's ``state_dict`` into the fresh module, an optimizer's into the fresh
optimizer, a tensor replaces the fresh tensor, an object's attributes are loaded into the fresh
object. A code fix therefore reaches a resumed run, and nothing a checkpoint holds can run code.

What is never stored: the stream's data. A method that keeps a reference to a ``Task`` (joint
training's seen tasks) stores its index, and :func:`unpack` links the stream's task again.
Attributes derived from the config (``params``, ``info``, ``device``, the optimizer factory)
and caches a method names in ``transient`` are rebuilt, not stored.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import NeuroplasticError
from ..scenarios.task import Task

FORMAT = "neuroplastic-method-state/1"
_PRIMITIVES = (bool, int, float, str, type(None))
_OPTIMIZER_OWN = ("defaults", "state", "param_groups")


class StateError(NeuroplasticError):
    """A method's state cannot be stored or does not fit the method built for this run."""


def pack(obj: Any, where: str, seen: dict[int, str] | None = None) -> Any:
    """``obj`` as weights-only data (see the module docstring); ``where`` names it in errors."""
    seen = {} if seen is None else seen
    if isinstance(obj, _PRIMITIVES) or isinstance(obj, Tensor):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise StateError(f"{where}: a NumPy object array cannot be checkpointed")
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, Task):
        return {"__task__": obj.index}
    if isinstance(obj, torch.Generator):
        return {"__generator__": obj.get_state()}
    if isinstance(obj, torch.device | torch.dtype):
        return {"__text__": str(obj)}
    if isinstance(obj, nn.Module):
        if id(obj) in seen:  # the same module under two names: stored once
            return {"__same__": seen[id(obj)]}
        seen[id(obj)] = where
        # train/eval per sub-module: a frozen part (Artsy's finished adapters) stays in eval
        # mode while the rest trains
        modes = {name: sub.training for name, sub in obj.named_modules()}
        return {"__module__": obj.state_dict(), "training": modes,
                "extra": _module_extras(obj, where, seen)}
    if isinstance(obj, torch.optim.Optimizer):
        # an update rule's own public attributes beside torch's state (metaplastic SGD's task
        # count, say); private ones (parameter lists) are rebuilt with the optimizer
        extra = {k: v for k, v in vars(obj).items()
                 if not k.startswith("_") and k not in _OPTIMIZER_OWN}
        return {"__optimizer__": obj.state_dict(),
                "extra": {k: pack(v, f"{where}.{k}", seen) for k, v in extra.items()}}
    if isinstance(obj, list):
        return [pack(v, f"{where}[{i}]", seen) for i, v in enumerate(obj)]
    if isinstance(obj, set | frozenset):
        if not all(isinstance(v, _PRIMITIVES) for v in obj):
            raise StateError(f"{where}: only sets of numbers or text can be checkpointed")
        return {"__set__": sorted(obj, key=repr)}
    if isinstance(obj, tuple):
        return {"__tuple__": [pack(v, f"{where}[{i}]", seen) for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, _PRIMITIVES + (tuple,)):
                raise StateError(f"{where}: dict key {key!r} cannot be checkpointed")
        return {"__dict__": [[k, pack(v, f"{where}[{k!r}]", seen)] for k, v in obj.items()]}
    if dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        fields = vars(obj) if not dataclasses.is_dataclass(obj) else {
            f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return {"__object__": type(obj).__qualname__,
                "fields": {k: pack(v, f"{where}.{k}", seen) for k, v in fields.items()}}
    raise StateError(f"{where}: a {type(obj).__name__} cannot be checkpointed")


def unpack(data: Any, fresh: Any, where: str, tasks: list[Task], modules: dict[str, Any],
           model: nn.Module | None = None) -> Any:
    """The value to set for saved ``data``, loading it into ``fresh`` (the freshly built
    method's value of the same attribute) where that is a module, optimizer or object."""
    if isinstance(data, _PRIMITIVES) or isinstance(data, Tensor):
        return data
    if isinstance(data, list):
        fresh = fresh if isinstance(fresh, list) else []
        return [unpack(v, fresh[i] if i < len(fresh) else None, f"{where}[{i}]", tasks, modules,
                       model) for i, v in enumerate(data)]
    if not isinstance(data, dict):
        raise StateError(f"{where}: unexpected {type(data).__name__} in a checkpoint")
    if "__tuple__" in data:
        items = data["__tuple__"]
        fresh = fresh if isinstance(fresh, tuple) else ()
        return tuple(unpack(v, fresh[i] if i < len(fresh) else None, f"{where}[{i}]", tasks,
                            modules, model) for i, v in enumerate(items))
    if "__dict__" in data:
        fresh = fresh if isinstance(fresh, dict) else {}
        return {(tuple(k) if isinstance(k, list) else k):
                unpack(v, fresh.get(k), f"{where}[{k!r}]", tasks, modules, model)
                for k, v in data["__dict__"]}
    if "__set__" in data:
        return set(data["__set__"])
    if "__ndarray__" in data:
        return data["__ndarray__"].numpy()
    if "__task__" in data:
        index = data["__task__"]
        if not 0 <= index < len(tasks):
            raise StateError(f"{where}: the checkpoint refers to task {index}, the stream has "
                             f"{len(tasks)}")
        return tasks[index]
    if "__generator__" in data:
        gen = fresh if isinstance(fresh, torch.Generator) else torch.Generator()
        gen.set_state(data["__generator__"])
        return gen
    if "__text__" in data:
        text = data["__text__"]
        return getattr(torch, text.split(".", 1)[1]) if text.startswith("torch.") else \
            torch.device(text)
    if "__same__" in data:
        return modules[data["__same__"]]
    if "__module__" in data:
        module = _load_module(data, fresh, where, model)
        modules[where] = module
        return module
    if "__optimizer__" in data:
        if not isinstance(fresh, torch.optim.Optimizer):
            raise StateError(f"{where}: the checkpoint holds an optimizer, the method built for "
                             "this run has none there")
        try:
            fresh.load_state_dict(data["__optimizer__"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise StateError(f"{where}: the optimizer state does not fit ({exc})") from None
        for key, value in data.get("extra", {}).items():
            current = getattr(fresh, key, None)
            setattr(fresh, key, unpack(value, current, f"{where}.{key}", tasks, modules, model))
        return fresh
    if "__object__" in data:
        if fresh is None or type(fresh).__qualname__ != data["__object__"]:
            found = "nothing" if fresh is None else type(fresh).__qualname__
            raise StateError(f"{where}: the checkpoint holds a {data['__object__']}, the method "
                             f"built for this run has {found}")
        for key, value in data["fields"].items():
            current = getattr(fresh, key, None)
            setattr(fresh, key, unpack(value, current, f"{where}.{key}", tasks, modules, model))
        return fresh
    raise StateError(f"{where}: unknown entry in a checkpoint ({sorted(data)})")


def _plain(value: Any) -> bool:
    """Data a module keeps beside its parameters that a checkpoint must carry (a replay
    buffer's fill count, a growing layer's width): numbers, text, tensors and containers of
    them. Anything else on a module (sub-modules, functions, settings objects) is rebuilt."""
    if isinstance(value, _PRIMITIVES) or isinstance(value, Tensor):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, _PRIMITIVES) and _plain(v) for k, v in value.items())
    return False


def _module_extras(module: nn.Module, where: str, seen: dict[int, str]) -> dict[str, Any]:
    """The plain public attributes of ``module`` and of each of its sub-modules, by name."""
    extras = {}
    for name, sub in module.named_modules():
        attrs = {k: v for k, v in vars(sub).items()
                 if not k.startswith("_") and k != "training" and _plain(v)}
        if attrs:
            extras[name] = {k: pack(v, f"{where}.{name}.{k}", seen) for k, v in attrs.items()}
    return extras


def _grow_to(fresh: nn.Module, state: dict[str, Tensor]) -> None:
    """Make ``fresh`` hold what ``state`` holds where a module grows while it trains: a
    ``ModuleList`` with fewer entries gets copies of its last one (loaded below), and a
    parameter or buffer of another shape is resized in place (same object, so an optimizer
    built over it keeps pointing at it)."""
    for name, sub in list(fresh.named_modules()):
        if isinstance(sub, nn.ModuleList) and len(sub):
            prefix = f"{name}." if name else ""
            wanted = {int(k[len(prefix):].split(".", 1)[0]) for k in state
                      if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()}
            while wanted and len(sub) <= max(wanted):
                sub.append(copy.deepcopy(sub[-1]))
    own = dict(fresh.named_parameters()) | dict(fresh.named_buffers())
    for key, saved in state.items():
        tensor = own.get(key)
        if tensor is not None and tensor.shape != saved.shape:
            tensor.data = torch.empty(saved.shape, dtype=tensor.dtype, device=tensor.device)


def _load_module(data: dict[str, Any], fresh: Any, where: str, model: nn.Module | None):
    state = data["__module__"]
    if fresh is None and model is not None:
        # a module made after construction as a copy of the model (LwF's teacher)
        fresh = copy.deepcopy(model)
    if not isinstance(fresh, nn.Module):
        raise StateError(f"{where}: the checkpoint holds a module, the method built for this run "
                         "has none there")
    _grow_to(fresh, state)
    subs = dict(fresh.named_modules())
    for name, attrs in data.get("extra", {}).items():
        if name in subs:
            for key, value in attrs.items():
                current = getattr(subs[name], key, None)
                setattr(subs[name], key, unpack(value, current, f"{where}.{name}.{key}", [], {}))
    try:
        fresh.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])[:400]
        raise StateError(f"{where}: the saved module does not fit the one built for this run "
                         f"({detail})") from None
    modes = data.get("training", {})
    for name, sub in fresh.named_modules():
        sub.training = bool(modes.get(name, sub.training))
    return fresh
