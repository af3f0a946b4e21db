"""``neuroplastic atlas``: pages of the synapse atlas (``evaluators/synapse_atlas.py``) from run
records, drawn with the report's own tables and page writers (``experiments/report.py``).

Per stream (benchmark and scenario) a page section holds:

* a table with one line per run and task: the mean absolute weight change during the task (over
  every synapse the method names), the fraction of binary weights flipped, the overlap between
  the weights most changed in task k and the ones most consolidated after task k-1 (chance = the
  recorded ``top_fraction``), the change of those most consolidated relative to the layer's and
  the fraction of them flipped, each averaged over layers weighted by their size;
* side by side, one column per run and one row per layer: bars of the mean weight change per
  task and the overlap per task ("where was task k written, and what did it overwrite?");
* per run, small multiples of its consolidation state: one histogram per layer (rows) and task
  (columns) over the recorded fixed bin edges, titled with the fraction past the method's
  threshold where it has one; and every state that is not per synapse (DGM's free capacity,
  engram overlaps, Artsy's synapse decisions, a replay buffer's classes) per task.

matplotlib is imported inside the drawing functions, as ``matplotlib.figure.Figure`` (no pyplot,
no backend chosen: the process's matplotlib settings are left alone).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import record as record_mod
from ..errors import ConfigError
from .aggregate import group_records
from .report import (
    Figure,
    Section,
    display_path,
    png_bytes,
    row_labels,
    slug,
    to_html,
    to_markdown,
)

log = logging.getLogger(__name__)

EVALUATOR = "synapse-atlas"
HOW_TO_ADD = (
    "add the synapse-atlas evaluator and rerun: `neuroplastic run ... evaluators=[synapse-atlas]`, "
    "`evaluators: [synapse-atlas]` in the config, or `neuroplastic reproduce PROTOCOL --set "
    "evaluators=[synapse-atlas]`")


def entries(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The atlas entries of a record, one per task (empty when it has none)."""
    return list((rec.get("evaluations") or {}).get(EVALUATOR) or [])


def load(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Records with atlas data from files and folders (searched recursively). Records without
    it are skipped with a note; none at all is an error that says how to add the evaluator."""
    records, without = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = record_mod.load_all(path)
        elif path.is_file():
            found = [{**record_mod.read(path), "path": str(path)}]
        else:
            raise ConfigError(f"atlas: {str(path)!r} is neither a run record nor a folder")
        for rec in found:
            (records if entries(rec) else without).append(rec)
    if not records:
        where = ", ".join(str(p) for p in paths)
        seen = f"{len(without)} run record(s)" if without else "no run records"
        raise ConfigError(f"atlas: {seen} in {where}, none with synapse-atlas data; {HOW_TO_ADD}")
    for rec in without:
        log.info("atlas: %s has no synapse-atlas data; skipped", rec.get("name", rec.get("path")))
    return records


def main_state(rec: dict[str, Any], wanted: str | None = None) -> str | None:
    """The state drawn for a run: ``wanted`` when the run has it, else its first per-synapse
    state that names a consolidated direction (None: the run reports weight change only)."""
    last = entries(rec)[-1]["states"]
    if wanted is not None and wanted in last:
        return wanted
    for name, block in last.items():
        if block.get("per_synapse") and block.get("consolidated") != "none":
            return name
    return None


def _weighted(values: dict[str, float | None], sizes: dict[str, int]) -> float | None:
    pairs = [(v, sizes.get(k, 1)) for k, v in values.items() if v is not None]
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else None


def task_rows(rec: dict[str, Any], state: str | None) -> list[dict[str, float | None]]:
    """Per task, layers averaged by size: mean |weight change|, sign-flip fraction (binarized
    layers), and against ``state``: overlap, protected change ratio, protected flip fraction
    (None where a task has no value)."""
    out = []
    for entry in entries(rec):
        weights = entry["weights"]
        sizes = {k: v["numel"] for k, v in weights.items()}

        def by_state(key: str, entry=entry, sizes=sizes) -> float | None:
            return _weighted((entry.get(key) or {}).get(state, {}), sizes) if state else None

        out.append({
            "change": _weighted({k: v["mean_abs_change"] for k, v in weights.items()}, sizes),
            "flips": _weighted({k: v["sign_flip_fraction"] for k, v in weights.items()
                                if "sign_flip_fraction" in v}, sizes),
            "overlap": by_state("overlap"),
            "protected_change": by_state("protected_change_ratio"),
            "protected_flips": by_state("protected_flip_fraction"),
        })
    return out


def _label(rec: dict[str, Any], labels: dict) -> str:
    cfg = rec["config"]
    opt = (cfg.get("optimizer") or {}).get("name")
    base = cfg["method"]["name"] + (f" + {opt}" if opt else "")
    extra = labels.get(rec["_group"], "")
    return f"{base} ({extra}) s{rec['seed']}" if extra else f"{base} s{rec['seed']}"


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else f"{v:.2e}"


def _comparison_table(runs, states) -> tuple[list[str], list[list[str]]]:
    header = ["run", "task", "mean abs dW", "flips %", "state", "overlap %",
              "protected dW ratio", "protected flips %"]
    rows = []
    for (rec, label), state in zip(runs, states, strict=True):
        for k, r in enumerate(task_rows(rec, state)):
            rows.append([label if k == 0 else "", str(k + 1), _fmt(r["change"]),
                         _fmt(r["flips"], pct=True), state or "-", _fmt(r["overlap"], pct=True),
                         "-" if r["protected_change"] is None else f"{r['protected_change']:.2f}",
                         _fmt(r["protected_flips"], pct=True)])
    return header, rows


def _layers(rec: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in entries(rec):
        names += [n for n in entry["weights"] if n not in names]
    return names


def _side_by_side(runs, states) -> bytes:
    # no pyplot: the process's matplotlib backend is left alone
    from matplotlib.figure import Figure as PlotFigure

    depth = max(1, max(len(_layers(rec)) for rec, _ in runs))
    fig = PlotFigure(figsize=(3.2 * len(runs), 2.2 * depth))
    axes = fig.subplots(depth, len(runs), squeeze=False)
    for col, ((rec, label), state) in enumerate(zip(runs, states, strict=True)):
        layers = _layers(rec)
        for row in range(depth):
            ax = axes[row][col]
            if row >= len(layers):
                ax.axis("off")
                continue
            layer = layers[row]
            xs = list(range(1, len(entries(rec)) + 1))
            binary = any("sign_flip_fraction" in e["weights"].get(layer, {})
                         for e in entries(rec))
            key = "sign_flip_fraction" if binary else "mean_abs_change"
            change = [e["weights"].get(layer, {}).get(key) for e in entries(rec)]
            ax.bar(xs, [c or 0.0 for c in change], color="#9ab")
            ax.set_title(f"{label}\n{layer}" if row == 0 else layer, fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_xticks(xs)
            ax.set_ylabel("flipped" if binary else "mean |dW|", fontsize=7)
            if state:
                twin = ax.twinx()
                over = [e["overlap"].get(state, {}).get(layer) for e in entries(rec)]
                twin.plot(xs, [o if o is not None else float("nan") for o in over], "o-",
                          color="#c33", markersize=3)
                top = entries(rec)[0].get("top_fraction")
                if top:
                    twin.axhline(top, color="#c33", linestyle=":", linewidth=0.8)
                if binary:
                    kept = [(e.get("protected_flip_fraction") or {}).get(state, {}).get(layer)
                            for e in entries(rec)]
                    twin.plot(xs, [f if f is not None else float("nan") for f in kept], "s--",
                              color="#383", markersize=3)
                twin.set_ylim(0, 1)
                twin.tick_params(labelsize=6, colors="#c33")
            if row == depth - 1 or row == len(layers) - 1:
                ax.set_xlabel("task", fontsize=7)
    fig.suptitle("bars: mean |weight change| in the task (binarized layers: fraction of "
                 "binary weights flipped); red: overlap of the most changed weights with the "
                 "most consolidated before it (dotted: chance);\ngreen (binarized layers): "
                 "fraction of the most consolidated that flipped", fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)


def _small_multiples(rec: dict[str, Any], label: str, state: str) -> bytes:
    # no pyplot: the process's matplotlib backend is left alone
    from matplotlib.figure import Figure as PlotFigure

    runs = entries(rec)
    layers: list[str] = []
    for e in runs:
        layers += [n for n in e["states"].get(state, {}).get("layers", {}) if n not in layers]
    fig = PlotFigure(figsize=(1.9 * len(runs) + 1, 1.5 * max(1, len(layers)) + 0.6))
    axes = fig.subplots(max(1, len(layers)), len(runs), squeeze=False)
    for col, e in enumerate(runs):
        block = e["states"].get(state, {})
        edges = block.get("edges", [])
        for row, layer in enumerate(layers):
            ax = axes[row][col]
            summary = block.get("layers", {}).get(layer)
            ax.tick_params(labelsize=5)
            if summary is None:
                ax.axis("off")
                continue
            hist = summary["hist"]
            counts = [hist["below"], *hist["counts"], hist["above"]]
            ax.bar(range(len(counts)), counts, width=1.0, color="#468")
            ticks = [0, 1, len(counts) - 2, len(counts) - 1]
            ax.set_xticks(ticks, ["<", f"{edges[0]:g}", f"{edges[-1]:g}", ">"] if edges else [])
            ax.set_yticks([])
            title = f"task {e['task'] + 1}" if row == 0 else ""
            if summary.get("past_threshold") is not None:
                title += f"{' ' if title else ''}past thr {100 * summary['past_threshold']:.0f}%"
            if summary.get("grew_fraction") is not None:
                title += f"{' ' if title else ''}grew {100 * summary['grew_fraction']:.0f}%"
            ax.set_title(title, fontsize=6)
            if col == 0:
                ax.set_ylabel(layer, fontsize=6)
    meaning = runs[-1]["states"].get(state, {}).get("meaning", state)
    fig.suptitle(f"{label}: {state} ({meaning})", fontsize=7)
    fig.tight_layout()
    return png_bytes(fig)


def _small_states(rec: dict[str, Any], label: str, state: str) -> bytes | None:
    """A state that is not per synapse (free capacity, engram overlaps, Artsy's decisions, a
    buffer's classes), stored whole: scalars per layer as lines over tasks, vectors as bars and
    matrices as images, one column per task; None when none of it was small enough to store."""
    # no pyplot: the process's matplotlib backend is left alone
    import numpy as np
    from matplotlib.figure import Figure as PlotFigure

    runs = entries(rec)
    blocks = [e["states"].get(state, {}).get("layers", {}) for e in runs]
    layers: list[str] = []
    for b in blocks:
        layers += [n for n, v in b.items() if v.get("values") is not None and n not in layers]
    if not layers:
        return None
    meaning = runs[-1]["states"].get(state, {}).get("meaning", state)
    shapes = {n: next(b[n]["shape"] for b in blocks if n in b) for n in layers}
    if all(len(shape) == 0 for shape in shapes.values()):
        fig = PlotFigure(figsize=(4.5, 2.6))
        ax = fig.subplots()
        xs = list(range(1, len(runs) + 1))
        for n in layers:
            ys = [b[n]["values"][0] if n in b else None for b in blocks]
            ax.plot(xs, [y if y is not None else float("nan") for y in ys], "o-", label=n)
        ax.set_xticks(xs)
        ax.set_xlabel("task", fontsize=7)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=6)
    else:
        fig = PlotFigure(figsize=(1.9 * len(runs) + 1, 1.8 * len(layers) + 0.6))
        axes = fig.subplots(len(layers), len(runs), squeeze=False)
        for col, b in enumerate(blocks):
            for row, n in enumerate(layers):
                ax = axes[row][col]
                ax.tick_params(labelsize=5)
                if n not in b or b[n].get("values") is None:
                    ax.axis("off")
                    continue
                values = np.array([np.nan if v is None else v for v in b[n]["values"]], float)
                shape = b[n]["shape"]
                if len(shape) == 2:
                    ax.imshow(values.reshape(shape), vmin=0, vmax=max(1.0, np.nanmax(values)),
                              cmap="viridis", aspect="auto")
                    ax.set_xticks(range(shape[1]), [str(i + 1) for i in range(shape[1])])
                    ax.set_yticks(range(shape[0]), [str(i + 1) for i in range(shape[0])])
                else:
                    ax.bar(range(values.size), values.reshape(-1), color="#468")
                ax.set_title(f"task {col + 1}" if row == 0 else "", fontsize=6)
                if col == 0:
                    ax.set_ylabel(n, fontsize=6)
    fig.suptitle(f"{label}: {state} ({meaning})", fontsize=7)
    fig.tight_layout()
    return png_bytes(fig)


def build_sections(records: list[dict[str, Any]], state: str | None = None) -> list[Section]:
    """One section per stream (benchmark, scenario): comparison table, side-by-side figure and
    each run's small multiples."""
    groups = group_records(records)
    labels = row_labels(groups, skip=frozenset({"optimizer.name"}))  # the label names it
    for g in groups:
        for rec in g.records:
            rec["_group"] = g.key
    streams: dict[tuple[str, str], list] = {}
    for g in groups:
        for rec in sorted(g.records, key=lambda r: r["seed"]):
            streams.setdefault((g.benchmark, g.scenario), []).append((rec, _label(rec, labels)))
    sections = []
    for (benchmark, scenario), runs in streams.items():
        states = [main_state(rec, state) for rec, _ in runs]
        header, rows = _comparison_table(runs, states)
        stem = slug(f"atlas {benchmark} {scenario}")
        figures = [Figure("Side by side: weight change and overlap per layer and task",
                          f"{stem}-side-by-side", _side_by_side(runs, states))]
        for (rec, label), name in zip(runs, states, strict=True):
            if name is not None:
                figures.append(Figure(f"{label}: {name} per layer (rows) and task (columns)",
                                      slug(f"{stem} {label} {name}"),
                                      _small_multiples(rec, label, name)))
            for other, block in entries(rec)[-1]["states"].items():
                png = None if block.get("per_synapse") else _small_states(rec, label, other)
                if png is not None:
                    figures.append(Figure(f"{label}: {other} per task",
                                          slug(f"{stem} {label} {other}"), png))
        note = ("Layers weighted by size. mean abs dW: mean absolute weight change during the "
                "task; flips: binary weights flipped (binarized layers); overlap: % of the top "
                "fraction of most changed weights in task k that were among the top fraction "
                "most consolidated after task k-1 by the state named (chance = the top "
                "fraction); protected dW ratio: mean change of those most consolidated over "
                "the layer's (1 = unprotected, 0 = untouched); protected flips: % of them that "
                "flipped.")
        sections.append(Section(benchmark, scenario, [], header, rows, figures, note=note))
    return sections


def write_atlas(paths: list[str | Path], out: str | Path | None = None,
                state: str | None = None) -> tuple[Path, Path]:
    """Write ``<out>.md`` (PNGs in ``<out>_files/``) and ``<out>.html`` (self-contained);
    ``out`` defaults to ``atlas`` in the first folder given (or beside the first record)."""
    records = load(paths)
    first = Path(paths[0])
    prefix = Path(out) if out is not None else (first if first.is_dir() else first.parent) / "atlas"
    sections = build_sections(records, state)
    files_dir = prefix.with_name(prefix.name + "_files")
    files_dir.mkdir(parents=True, exist_ok=True)
    for s in sections:
        for f in s.figures:
            (files_dir / f"{f.slug}.png").write_bytes(f.png)
    where = ", ".join(display_path(str(p)) for p in paths)
    intro = [f"The synapse atlas of {len(records)} run(s) from {where}: what each method did "
             "to its synapses, task by task (see docs/atlas.md)."]
    md = prefix.with_name(prefix.name + ".md")
    page = prefix.with_name(prefix.name + ".html")
    title = "neuroplastic synapse atlas"
    md.write_text(to_markdown(first, records, sections, [], files_dir, title=title, intro=intro))
    page.write_text(to_html(first, records, sections, [], title=title, intro=intro))
    return md, page
