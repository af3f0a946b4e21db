"""Name -> component registries (methods, benchmarks, models, optimizers, ...).

A component registers itself with a decorator; looking up an unknown name raises
:class:`UnknownNameError` listing every valid choice. Registration happens when a module is
imported; the package imports its built-in modules lazily (see ``load_builtins``), so importing
``neuroplastic`` has no side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    params: type | None  # a dataclass of hyper-parameters with documented defaults
    summary: str  # one line, shown by `neuroplastic list`


def first_paragraph(doc: str) -> str:
    """A docstring's first paragraph on one line: a summary is never cut mid-sentence (the first
    *line* of a wrapped docstring often is)."""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(paragraph.split())


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, params: type | None = None, summary: str | None = None
    ) -> Callable[[T], T]:
        def decorate(obj: T) -> T:
            if name in self._entries and self._entries[name].obj is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            doc = summary or first_paragraph(getattr(obj, "__doc__", None) or "")
            self._entries[name] = Entry(name, obj, params, doc)
            return obj

        return decorate

    def get(self, name: str) -> Entry[T]:
        load_builtins()
        if not isinstance(name, str) or name not in self._entries:  # a list or mapping, too
            raise UnknownNameError(self.kind, name, list(self._entries))
        return self._entries[name]

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: str) -> bool:
        load_builtins()
        return isinstance(name, str) and name in self._entries


METHODS: Registry[Any] = Registry("method")
BENCHMARKS: Registry[Any] = Registry("benchmark")
MODELS: Registry[Any] = Registry("model")
OPTIMIZERS: Registry[Any] = Registry("optimizer")
TRANSFORMS: Registry[Any] = Registry("stream transform")
EVALUATORS: Registry[Any] = Registry("evaluator")

# Packages whose modules register the built-in components: every module in them is imported on
# the first lookup, so a new method is one new file in ``methods/`` and nothing else.
BUILTIN_PACKAGES = [
    "neuroplastic.models",
    "neuroplastic.plasticity",
    "neuroplastic.methods",
    "neuroplastic.scenarios",
    "neuroplastic.evaluators",
]
BUILTIN_MODULES: list[str] = []

_loaded = False


def load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib
    import pkgutil

    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
