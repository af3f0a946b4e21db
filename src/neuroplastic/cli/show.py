"""``neuroplastic list`` (every registered component) and ``neuroplastic show KIND NAME`` (every
option of one component, with its default and doc).

Options are the fields of the component's ``Params`` dataclass; their documentation is the
``#:`` comment above a field or the ``#`` comment after it, read from the source, so the
listing and the code cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from typing import Any

KINDS = ("method", "benchmark", "model", "optimizer", "transform", "evaluator", "preset")
_FIELD = re.compile(r"^\s*(\w+)\s*:\s*[^=]+?(?:=\s*(.*?))?\s*(?:#(?!:)\s*(.*))?$")


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its comment in the source of ``cls`` and its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines[1:]:
            stripped = line.strip()
            if stripped.startswith("#:"):
                pending.append(stripped[2:].strip())
                continue
            match = _FIELD.match(line)
            if match and not stripped.startswith(("def ", "@", "#", '"')):
                name, trailing = match.group(1), match.group(3)
                text = " ".join([*pending, trailing or ""]).strip()
                if text:
                    docs[name] = text
            pending = []
    return docs


def _registry(kind: str):
    from .. import registry

    return {
        "method": registry.METHODS,
        "benchmark": registry.BENCHMARKS,
        "model": registry.MODELS,
        "optimizer": registry.OPTIMIZERS,
        "transform": registry.TRANSFORMS,
        "evaluator": registry.EVALUATORS,
    }[kind]


def _params_class(kind: str, entry) -> type | None:
    if kind == "method":
        return getattr(entry.obj, "Params", None)
    return entry.params


def describe(kind: str, name: str, width: int = 100) -> str:
    """The text ``neuroplastic show KIND NAME`` prints."""
    from ..errors import UnknownNameError

    if kind not in KINDS:
        raise UnknownNameError("kind", kind, list(KINDS))
    if kind == "preset":
        from .run import preset_path

        path = preset_path(name)
        if path is None:
            return "preset none: no preset, the library defaults (README, Configuration)"
        return f"preset {name} ({path}):\n\n{path.read_text()}"
    entry = _registry(kind).get(name)
    out = [f"{kind} {name}: {entry.summary}"]
    doc = inspect.getdoc(entry.obj) or ""
    cls = _params_class(kind, entry)
    cls_doc = inspect.getdoc(cls) if cls is not None else ""
    for text in (doc, cls_doc):
        if (text and " ".join(text.split()) != entry.summary
                and not text.startswith(cls.__name__ + "(")):
            out += ["", textwrap.fill(" ".join(text.split()), width)]
    if cls is None or not dataclasses.is_dataclass(cls) or not dataclasses.fields(cls):
        out += ["", "no options"]
        return "\n".join(out)
    docs = field_docs(cls)
    if kind in ("transform", "evaluator"):
        where = f"in a config's {kind}s list: {kind}s: [{{name: {name}, KEY: VALUE}}]"
    else:
        where = f"{kind}.KEY=VALUE on the command line, or in the {kind} block of a config"
    out += ["", f"options ({where}):"]
    if kind == "optimizer":
        out.append("  reset = 'never'\n      every optimizer: never (one optimizer for the "
                   "whole stream) | per_task (a fresh one at each task)")
    for f in dataclasses.fields(cls):
        default = _default(f)
        out.append(f"  {f.name} = {default!r}")
        if f.name in docs:
            out.append(textwrap.fill(docs[f.name], width, initial_indent=" " * 6,
                                     subsequent_indent=" " * 6))
    return "\n".join(out)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "(required)"


def cmd_show(args) -> int:
    import shutil

    width = max(60, min(100, shutil.get_terminal_size((100, 24)).columns))
    print(describe(args.kind, args.name, width))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "show",
        help="every option of one component (method, benchmark, model, optimizer, transform, "
        "evaluator, preset) with its default and documentation",
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("name", help="its registered name (see `neuroplastic list`)")
    p.set_defaults(func=cmd_show)


def cmd_list(args) -> int:
    import shutil
    import textwrap

    from ..experiment import catalogue

    columns = shutil.get_terminal_size((100, 24)).columns
    for section, items in catalogue().items():
        print(f"{section}:")
        width = max((len(n) for n, _ in items), default=0)
        for name, summary in items:
            # wrap, never cut: a summary is a whole sentence (registry.Entry.summary)
            print(
                textwrap.fill(
                    summary,
                    width=max(columns, width + 40),
                    initial_indent=f"  {name:<{width}}  ",
                    subsequent_indent=" " * (width + 4),
                )
            )
        print()
    print("options of one component, with defaults: neuroplastic show KIND NAME")
    return 0


def register_list(subparsers) -> None:
    p = subparsers.add_parser(
        "list", help="methods, benchmarks, scenarios, models, optimizers, transforms, evaluators"
    )
    p.set_defaults(func=cmd_list)
