"""Reports: one Markdown and one self-contained HTML page from every run record in a folder,
and one tidy CSV of all of them.

Per benchmark and scenario: a settings table (the budget, model and optimizer of every group,
and every other setting that differs between groups), a table of mean ± sample standard
deviation over seeds per group (average accuracy, forgetting, BWT, train time, peak memory,
state bytes), the accuracy-matrix heat maps (mean over seeds, with a colour bar), the
accuracy-over-tasks curves (average accuracy on the tasks seen so far, after each task) and a
scatter of final accuracy against the memory a method keeps. Tasks are numbered from 1
everywhere. A stream of one task gets neither heat maps nor curves (a 1x1 matrix and a
one-point curve show nothing the table does not).

Records are averaged only within a group of identical configs (seed aside) and one library
version (see ``aggregate``). A row label names the settings in which its group departs from the
section's majority (``ewc (train.epochs=3)``), so runs with different budgets never sit side by
side unmarked. The HTML page inlines its PNG plots as base64; the Markdown page links to PNG
files written beside it in ``<prefix>_files/``; ``<prefix>.csv`` holds one row per run and
metric (``pandas.read_csv`` loads it as is).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import record as record_mod
from ..errors import ConfigError
from ..outputs import check_dir
from .aggregate import (
    Group,
    config_value,
    differing_settings,
    group_records,
    mean_std,
)

#: (metric key, column title, scale, decimals): fractions are shown as percentages
COLUMNS = [
    ("average_accuracy", "avg acc %", 100.0, 2),
    ("forgetting", "forgetting %", 100.0, 2),
    ("bwt", "BWT %", 100.0, 2),
    ("train_seconds", "train s", 1.0, 2),
    ("peak_rss_bytes", "peak RSS MB", 1e-6, 0),
    ("state_bytes", "state MB", 1e-6, 3),
]
MARKERS = ("o", "s", "^")
#: settings every settings table shows (dotted config keys, column titles), then every other
#: setting that differs between the groups of a section
CORE_SETTINGS = [
    ("train.epochs", "epochs"),
    ("train.iterations", "iterations"),
    ("train.batch_size", "batch"),
    ("model.name", "model"),
    ("model.hidden", "hidden"),
    ("optimizer.name", "optimizer"),
    ("optimizer.lr", "lr"),
]
#: row labels name at most this many departing settings (the settings table has them all)
LABEL_KEYS = 3


@dataclass
class Figure:
    title: str
    slug: str
    png: bytes


@dataclass
class Section:
    benchmark: str
    scenario: str
    groups: list[Group]
    header: list[str]
    rows: list[list[str]]
    figures: list[Figure]
    settings_header: list[str] | None = None
    settings_rows: list[list[str]] | None = None
    note: str = ""


def _cell(stat: tuple[float, float, int] | None, scale: float, decimals: int) -> str:
    if stat is None:
        return "-"
    mean, std, n = stat
    if n == 1:
        return f"{mean * scale:.{decimals}f}"
    return f"{mean * scale:.{decimals}f} ± {std * scale:.{decimals}f}"


def _name(group: Group, labels: dict) -> str:
    label = labels.get(group.key, "")
    return f"{group.method} ({label})" if label else group.method


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "x".join(map(str, v)) if all(isinstance(x, int) for x in v) else str(v)
    if isinstance(v, float):
        return f"{v:g}"
    return "-" if v is None else str(v)


def row_labels(
    groups: list[Group], skip: frozenset[str] = frozenset()
) -> dict[tuple[str, str], str]:
    """For every group, the settings in which it departs from the majority of ``groups``.

    A setting that differs between groups (``aggregate.differing_settings``: a method's own
    hyper-parameters only against the same method) marks the rows whose value is not held by
    more than half of the groups; with no such majority it marks every row. Different library
    versions are marked too. So EWC at 3 epochs beside LwF at 20 reads ``ewc (train.epochs=3)``
    and ``lwf (train.epochs=20)``, while twelve methods at one budget read as plain names.
    ``skip``: more settings never to mark (the atlas names the optimizer in the label itself).
    Groups are compared within their stream (benchmark and scenario), so a scenario's own
    default head does not mark every row of a table that spans scenarios."""
    streams: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        streams.setdefault((g.benchmark, g.scenario), []).append(g)
    if len(streams) > 1:
        return {k: v for same in streams.values() for k, v in row_labels(same, skip).items()}
    if not groups:
        return {}
    differ = differing_settings(
        [g.config for g in groups],
        skip={"seed", "method.name", "benchmark.name", "scenario"} | set(skip),
    )
    marks: list[list[str]] = [[] for _ in groups]
    for key in differ["keys"]:
        values = [repr(row.get(key, None)) for row in differ["rows"]]
        present = [i for i, row in enumerate(differ["rows"]) if key in row]
        common, count = Counter(values[i] for i in present).most_common(1)[0]
        majority = common if count * 2 > len(groups) else None
        for i in present:
            if values[i] != majority:
                marks[i].append(f"{key.removesuffix('.name')}={_value(differ['rows'][i][key])}")
    versions = {g.version for g in groups}
    labels = {}
    for g, parts in zip(groups, marks, strict=True):
        shown = parts[:LABEL_KEYS] + (["..."] if len(parts) > LABEL_KEYS else [])
        if len(versions) > 1:
            shown.append(f"v{g.version}")
        labels[g.key] = ", ".join(shown)
    return labels


def settings_table(groups: list[Group], labels: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: the core settings of every group, then every other setting that
    differs between the groups (a key a group does not have is shown as -)."""
    differ = differing_settings(
        [g.config for g in groups], skip={"seed", "method.name", "benchmark.name", "scenario"}
    )
    core = [(k, t) for k, t in CORE_SETTINGS
            if any(config_value(g.config, k) is not None for g in groups)]
    extra = [k for k in differ["keys"] if k not in dict(core)]
    header = ["group", *[t for _, t in core], *extra]
    rows = []
    for g, row in zip(groups, differ["rows"], strict=True):
        cells = [_name(g, labels)] + [_value(config_value(g.config, k)) for k, _ in core]
        cells += [_value(row.get(k)) for k in extra]
        rows.append(cells)
    return header, rows


def display_path(name: str) -> str:
    """A path (a benchmark given as a data file, a records folder) relative to the working
    folder when it lies below it, so that headings do not carry one machine's absolute path."""
    prefix, sep, rest = name.partition(":")
    target = rest if sep and "/" in rest else name
    if "/" not in target and "\\" not in target:
        return name
    try:
        rel = os.path.relpath(target)
    except ValueError:  # another drive on Windows
        return name
    shown = rel if not rel.startswith("..") else Path(target).name
    return f"{prefix}:{shown}" if sep and "/" in rest else shown


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def _heatmaps(groups: list[Group], labels: dict) -> bytes:
    # no pyplot: the process's matplotlib backend is left alone
    from matplotlib.figure import Figure as PlotFigure

    n = len(groups)
    cols = min(4, n)
    rows = -(-n // cols)
    fig = PlotFigure(figsize=(3.2 * cols + 0.8, 3.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    image = None
    for ax, g in zip(axes.flat, groups, strict=False):
        m = [[100 * v for v in row] for row in g.mean_matrix()]
        image = ax.imshow(m, vmin=0.0, vmax=100.0, cmap="viridis")
        label = labels.get(g.key, "")
        ax.set_title(f"{g.method} (n={len(g.records)})" + (f"\n{label}" if label else ""),
                     fontsize=8 if not label else 7)
        ax.set_xlabel("evaluated on task", fontsize=7)
        ax.set_ylabel("after training task", fontsize=7)
        # tasks are numbered from 1 here as in the curves and the text
        ax.set_xticks(range(len(m[0])), [str(j + 1) for j in range(len(m[0]))])
        ax.set_yticks(range(len(m)), [str(i + 1) for i in range(len(m))])
        ax.tick_params(labelsize=6)
        if len(m) <= 10:
            for i, row in enumerate(m):
                for j, v in enumerate(row):
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if v < 60 else "black")
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes.flat[:n]), shrink=0.8, pad=0.02)
        bar.set_label("accuracy (%)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    return png_bytes(fig)


def _seen_average(matrix: list[list[float]]) -> list[float]:
    """Average accuracy on the tasks seen so far, after each task (row i, columns 0..i)."""
    return [sum(row[: i + 1]) / (i + 1) for i, row in enumerate(matrix)]


def _curves(groups: list[Group], labels: dict) -> bytes:
    # no pyplot: the process's matplotlib backend is left alone
    from matplotlib.figure import Figure as PlotFigure

    fig = PlotFigure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    for i, g in enumerate(groups):
        per_seed = [_seen_average(r["accuracy_matrix"]) for r in g.records]
        steps = len(per_seed[0])
        stats = [mean_std([s[i] for s in per_seed if len(s) > i]) for i in range(steps)]
        x = list(range(1, steps + 1))
        mean = [100 * s[0] for s in stats]
        std = [100 * s[1] for s in stats]
        line = ax.plot(x, mean, marker=MARKERS[i // 10 % 3], ms=3, label=_name(g, labels),
                       linestyle="-" if i < 10 else "--")[0]
        ax.fill_between(x, [max(0.0, m - s) for m, s in zip(mean, std, strict=True)],
                        [min(100.0, m + s) for m, s in zip(mean, std, strict=True)],
                        color=line.get_color(), alpha=0.15)
    ax.set_xticks(range(1, 1 + max(len(g.records[0]["accuracy_matrix"]) for g in groups)))
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("average accuracy on seen tasks (%)")
    # up to 100 %, and from a round number below the lowest value: a flat curve looks flat,
    # and a curve that falls is not stretched across the whole height
    low = min((v for line in ax.get_lines() for v in line.get_ydata()), default=0.0)
    ax.set_ylim(max(0.0, 10 * ((low - 5) // 10)), 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return png_bytes(fig)


def _scatter(groups: list[Group], labels: dict) -> bytes:
    # no pyplot: the process's matplotlib backend is left alone
    from matplotlib.figure import Figure as PlotFigure

    fig = PlotFigure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    for i, g in enumerate(groups):
        acc, mem = g.stat("average_accuracy"), g.stat("state_bytes")
        if acc is None or mem is None:
            continue
        # the colour cycle has 10 colours: a second marker shape keeps 11+ methods apart;
        # the error bar is cut at 0 and 100 %, which no accuracy passes
        mean, std = 100 * acc[0], 100 * acc[1]
        yerr = [[min(std, mean)], [min(std, 100 - mean)]]
        ax.errorbar(mem[0] / 1e6, mean, yerr=yerr, fmt=MARKERS[i // 10 % 3],
                    capsize=3, label=_name(g, labels))
    ax.set_xlabel("state kept by the method (MB, model + method + optimizer)")
    ax.set_ylabel("average accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return png_bytes(fig)


def build_sections(records: list[dict[str, Any]], plots: bool = True) -> list[Section]:
    groups = group_records(records)
    versions = {g.version for g in groups}
    by_pair: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        by_pair.setdefault((g.benchmark, g.scenario), []).append(g)
    sections = []
    for (bench, scenario), members in sorted(by_pair.items()):
        labels = row_labels(members)
        header = ["method", "seeds"] + [c[1] for c in COLUMNS]
        if len(versions) > 1:
            header.insert(1, "version")
        rows = []
        for g in members:
            row = [_name(g, labels), ",".join(str(s) for s in g.seeds)]
            if len(versions) > 1:
                row.insert(1, g.version)
            row += [_cell(g.stat(key), scale, dec) for key, _, scale, dec in COLUMNS]
            rows.append(row)
        settings_header, settings_rows = settings_table(members, labels)
        n_tasks = max(len(g.records[0]["accuracy_matrix"]) for g in members)
        figures, note = [], ""
        if plots and n_tasks > 1:
            base = slug(f"{bench}-{scenario}")
            figures = [
                Figure("Accuracy matrices (mean over seeds; row = after training task i, "
                       "column = evaluated on task j, tasks from 1)",
                       f"{base}-matrices", _heatmaps(members, labels)),
                Figure("Average accuracy on the tasks seen so far (mean ± std over seeds)",
                       f"{base}-curves", _curves(members, labels)),
                Figure("Average accuracy against the state each method keeps",
                       f"{base}-memory", _scatter(members, labels)),
            ]
        elif plots:
            base = slug(f"{bench}-{scenario}")
            note = ("One task: the accuracy matrix is the single number in the table, so no "
                    "heat map or curve is drawn.")
            figures = [Figure("Accuracy against the state each method keeps",
                              f"{base}-memory", _scatter(members, labels))]
        sections.append(Section(bench, scenario, members, header, rows, figures,
                                settings_header, settings_rows, note))
    return sections


def _failures(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.rglob("*.failed.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out.append((str(data.get("name", path.name)), str(data.get("error", "?"))))
    return out


def _intro(folder: Path, records: list, sections: list[Section]) -> list[str]:
    versions = sorted({str(r.get("versions", {}).get("neuroplastic", "?")) for r in records})
    devices = sorted({str(r.get("device", "?")) for r in records})
    n_groups = sum(len(s.groups) for s in sections)
    return [
        f"{len(records)} run records from `{display_path(str(folder))}`, in {n_groups} groups "
        f"(neuroplastic {', '.join(versions)}; device {', '.join(devices)}).",
        "Values are mean ± sample standard deviation over the seeds listed. Records are "
        "averaged only when their configs are identical apart from the seed and they come "
        "from the same library version.",
    ]


def to_markdown(folder: Path, records, sections, failures, files_dir: Path | None,
                title: str = "neuroplastic report", intro: list[str] | None = None) -> str:
    """The Markdown page; ``title`` and ``intro`` (paragraphs) replace the report's own for
    other pages built from sections (``neuroplastic atlas``)."""
    intro = _intro(folder, records, sections) if intro is None else intro
    lines = [f"# {title}", "", *intro, ""]
    lines.append(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    for s in sections:
        lines += ["", f"## {display_path(s.benchmark)}, {s.scenario}-incremental", ""]
        if s.settings_header:
            lines += ["Settings (every setting that differs between the groups, and the budget, "
                      "model and optimizer of each):", ""]
            lines.append("| " + " | ".join(s.settings_header) + " |")
            lines.append("|" + "|".join("---" for _ in s.settings_header) + "|")
            lines += ["| " + " | ".join(r) + " |" for r in s.settings_rows or []]
            lines += ["", "Results:", ""]
        lines.append("| " + " | ".join(s.header) + " |")
        lines.append("|" + "|".join("---" for _ in s.header) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in s.rows]
        if s.note:
            lines += ["", s.note]
        for f in s.figures:
            if files_dir is not None:
                lines += ["", f"**{f.title}**", "", f"![{f.title}]({files_dir.name}/{f.slug}.png)"]
    if failures:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures]
    return "\n".join(lines) + "\n"


def to_html(folder: Path, records, sections, failures, title: str = "neuroplastic report",
            intro: list[str] | None = None) -> str:
    e = html.escape
    intro = _intro(folder, records, sections) if intro is None else intro
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *[f"<p>{e(p)}</p>" for p in intro],
    ]
    for s in sections:
        parts.append(f"<h2>{e(display_path(s.benchmark))}, {e(s.scenario)}-incremental</h2>")
        tables = [(s.settings_header, s.settings_rows, "Settings")] if s.settings_header else []
        tables.append((s.header, s.rows, "Results"))
        for header, rows, title in tables:
            parts.append(f"<h3>{title}</h3><table>")
            parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
            for r in rows or []:
                parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
            parts.append("</table>")
        if s.note:
            parts.append(f"<p>{e(s.note)}</p>")
        for f in s.figures:
            data = base64.b64encode(f.png).decode()
            parts.append(f"<h3>{e(f.title)}</h3><img alt='{e(f.title)}' "
                         f"src='data:image/png;base64,{data}'>")
    if failures:
        parts.append("<h2>Failed runs</h2><ul>")
        parts += [f"<li><code>{e(n)}</code>: {e(err)}</li>" for n, err in failures]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


#: the identifying columns of the tidy CSV, before the settings that differ between runs
CSV_ID = ["run", "group", "benchmark", "scenario", "method", "optimizer", "seed", "version"]


def write_csv(path: Path, records: list[dict[str, Any]], sections: list[Section]) -> None:
    """One row per run and metric (tidy, "long" format: Wickham 2014), with the run's name,
    its group label as in the report, and every setting that differs between the runs as a
    column, so ``pandas.read_csv(path).pivot_table(index='group', columns='metric')`` works.
    Metric values are as in the records (fractions, seconds, bytes)."""
    from .aggregate import seedless_hash, version_of

    label_of = {}
    for s in sections:
        labels = row_labels(s.groups)
        for g in s.groups:
            label_of[g.key] = _name(g, labels)
    differ = differing_settings([r["config"] for r in records], skip={"seed"})
    core = [k for k, _ in CORE_SETTINGS if k not in ("model.name", "optimizer.name")]
    core = [k for k in core if any(config_value(r["config"], k) is not None for r in records)]
    shown = ("benchmark.name", "scenario", "method.name", "optimizer.name")
    keys = core + [k for k in differ["keys"] if k not in shown and k not in core]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*CSV_ID, *keys, "metric", "value"])
        for rec, settings in zip(records, differ["rows"], strict=True):
            cfg = rec["config"]
            key = (seedless_hash(cfg), version_of(rec))
            ident = [rec.get("name", ""), label_of.get(key, cfg["method"]["name"]),
                     display_path(str(cfg["benchmark"]["name"])), cfg["scenario"],
                     cfg["method"]["name"], cfg["optimizer"]["name"], rec["seed"],
                     version_of(rec)]
            cells = [
                _value(settings[k]) if k in settings
                else _value(config_value(cfg, k)) if k in core else ""
                for k in keys
            ]
            for metric, value in sorted((rec.get("metrics") or {}).items()):
                if isinstance(value, (int, float)) or value is None:
                    writer.writerow([*ident, *cells, metric, "" if value is None else value])


def write_report(folder: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``<out>.md`` (with PNGs in ``<out>_files/``), ``<out>.html`` (self-contained) and
    ``<out>.csv`` (tidy: one row per run and metric) from every record under ``folder``;
    ``out`` defaults to ``<folder>/report``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"report: {str(folder)!r} is not a folder")
    prefix = Path(out) if out is not None else folder / "report"
    # a file where a folder should be fails here, before any record is read
    check_dir(prefix.parent, "report --out", create=False)
    records = record_mod.load_all(folder)
    if not records:
        raise ConfigError(f"report: no run records (*.json with an accuracy matrix) in {folder}")
    check_dir(prefix.parent, "report --out")
    sections = build_sections(records)
    failures = _failures(folder)
    files_dir = prefix.with_name(prefix.name + "_files")
    check_dir(files_dir, "report figures folder")
    for s in sections:
        for f in s.figures:
            (files_dir / f"{f.slug}.png").write_bytes(f.png)
    md = prefix.with_name(prefix.name + ".md")
    page = prefix.with_name(prefix.name + ".html")
    md.write_text(to_markdown(folder, records, sections, failures, files_dir))
    page.write_text(to_html(folder, records, sections, failures))
    write_csv(prefix.with_name(prefix.name + ".csv"), records, sections)
    return md, page


# --- a protocol's rows table (neuroplastic reproduce) ---------------------------------------

#: metrics stored as fractions, printed as percentages
FRACTIONS = {"average_accuracy", "forgetting", "bwt", "fwt", "final_accuracy",
             "average_incremental_accuracy"}


def column_value(rec: dict[str, Any], column: str) -> float | None:
    """A report column of one record: a metric name (``average_accuracy``), the final accuracy
    on task k (``final_accuracy_task<k>``, counted from 1), or a dotted path into the record
    (``method_extra.task_identity.average_accuracy``)."""
    if column in rec.get("metrics", {}):
        value = rec["metrics"][column]
    elif column.startswith("final_accuracy_task") and column[19:].isdigit():
        matrix, k = rec.get("accuracy_matrix") or [], int(column[19:]) - 1
        value = matrix[-1][k] if matrix and 0 <= k < len(matrix[-1]) else None
    else:
        value = config_value(rec, column)
    return float(value) if isinstance(value, int | float) else None


def _column_format(column: str) -> tuple[str, float, int]:
    """(title, scale, decimals) of a report column."""
    name = column.rsplit(".", 1)[-1] if column.startswith("method_extra") else column
    if column.startswith("method_extra.task_identity"):
        return "with task id %", 100.0, 2
    if name.endswith("bytes"):
        return name.replace("_bytes", " MiB"), 2.0**-20, 2
    if name.endswith("seconds"):
        return name.replace("_seconds", " s"), 1.0, 0
    if name.startswith("final_accuracy_task"):
        return f"task {name[19:]} final %", 100.0, 2
    percent = name in FRACTIONS or "accuracy" in name
    return (name.replace("_", " ") + (" %" if percent else ""), 100.0 if percent else 1.0,
            2 if percent else 3)


DEFAULT_COLUMNS = ["average_accuracy", "forgetting", "train_seconds"]


def _expand_columns(columns: list[str], records: list[dict[str, Any]]):
    """(title, value of a record, scale, decimals) of every table column: a paper column
    function (``dgm.a_t``, see ``papers``) gives as many columns as the titles it returns for
    the records, in the order of the record that has the most; its values are shown as given
    (one decimal)."""
    from ..papers import claim_function, is_paper_function

    out = []
    for c in columns:
        if not is_paper_function(c):
            title, scale, decimals = _column_format(c)
            out.append((title, lambda r, c=c: column_value(r, c), scale, decimals))
            continue
        fn = claim_function(c, "report column")
        per_record = [fn(r) for r in records]
        titles = max(per_record, key=len, default={})
        titles = list(titles) + [t for d in per_record for t in d if t not in titles]
        for title in titles:
            out.append((title, lambda r, fn=fn, title=title: fn(r).get(title), 1.0, 1))
    return out


def rows_table(
    rows: list[str], columns: list[str] | None, records: list[dict[str, Any]],
    grid_axes: tuple[str, ...] = (),
) -> tuple[list[str], list[list[str]]]:
    """A protocol's results table: one line per row (in the protocol's order; per differing
    grid value within a row, in the order of the records, which is the protocol's plan order),
    mean ± sample sd over seeds of each report column, and the seeds it has, naming those whose
    run finished with warnings (``flagged_runs`` lists them). Records carry their row in ``row``
    (``sweep.records_of``). ``grid_axes``: config keys named in every line's label
    (``dgmw train.epochs=2``), so a row whose other grid values have not run yet does not read
    as if it had none."""
    specs = _expand_columns(columns or DEFAULT_COLUMNS, records)
    order: list[str | None] = list(rows) or [None]
    by_row: dict[Any, list[dict[str, Any]]] = {}
    for rec in records:
        by_row.setdefault(rec.get("row"), []).append(rec)
    header = ["row" if rows else "run", "seeds"] + [title for title, *_ in specs]
    table = []
    position = {id(rec): i for i, rec in enumerate(records)}
    for row in order:
        # plan order (a grid's values as the protocol lists them: 256, 1024, 4096), not
        # group_records' order, which sorts by config hash within a method
        groups = sorted(group_records(by_row.get(row, [])),
                        key=lambda g: min(position[id(r)] for r in g.records))
        labels = row_labels(groups, skip=frozenset(grid_axes))
        if not groups:
            table.append([str(row), "0 (not run)"] + ["-"] * len(specs))
        for g in groups:
            axes = [f"{axis}={_value(config_value(g.config, axis))}" for axis in grid_axes]
            label = ", ".join(x for x in (*axes, labels.get(g.key, "")) if x)
            name = " ".join(x for x in (row, _stream_label(g, groups), label) if x) or g.method
            flagged = [str(r["seed"]) for r in g.records if r.get("warnings")]
            cells = [name, ",".join(map(str, g.seeds))
                     + (f" (flagged: {','.join(flagged)})" if flagged else "")]
            for _, value, scale, decimals in specs:
                vals = [v for v in (value(r) for r in g.records)
                        if v is not None and not math.isnan(v)]
                stat = mean_std(vals)
                cells.append("-" if stat is None else
                             f"{scale * stat[0]:.{decimals}f} ± {scale * stat[1]:.{decimals}f}")
            table.append(cells)
    return header, table


def flagged_runs(records: list[dict[str, Any]]) -> list[str]:
    """One line per record whose run finished with warnings (a run that learned nothing, a
    diverged loss): its row, seed and the warnings, so a table's mean never hides them."""
    return [f"{rec.get('row') or rec['name']}, seed {rec['seed']}: "
            + "; ".join(_merge_task_warnings(rec["warnings"]))
            for rec in records if rec.get("warnings")]


def _merge_task_warnings(warnings: list) -> list[str]:
    """The engine's warnings read "task N: message"; one message repeated over tasks is said
    once ("tasks 1, 2, 3: message")."""
    tasks: dict[str, list[str]] = {}
    for w in map(str, warnings):
        head, sep, message = w.partition(": ")
        if sep and head.startswith("task "):
            tasks.setdefault(message, []).append(head.removeprefix("task "))
        else:
            tasks.setdefault(w, [])
    return [(f"task{'s' if len(ids) > 1 else ''} {', '.join(ids)}: " if ids else "") + message
            for message, ids in tasks.items()]


def _stream_label(group: Group, groups: list[Group]) -> str:
    """The part of ``group``'s stream that tells it from the row's other groups (a protocol
    with a ``scenario`` grid runs each row in several streams; ``row_labels`` compares only
    within a stream, so without this the row would print twice under one name)."""
    parts = []
    if len({g.benchmark for g in groups}) > 1:
        parts.append(f"benchmark={group.benchmark}")
    if len({g.scenario for g in groups}) > 1:
        parts.append(f"scenario={group.scenario}")
    return ", ".join(parts)


def protocol_plots(plots: list[str], rows: dict[str, list[dict[str, Any]]], folder: Path,
                   title: str) -> list[Path]:
    """Draw a protocol's ``report.plots`` (paper plot functions, e.g. ``dgm.growth_plot``) from
    its records by row into ``<folder>/<function>.png``; the paths of those drawn."""
    from ..papers import claim_function

    drawn = []
    for name in plots:
        path = folder / f"{name.rpartition('.')[2]}.png"
        if claim_function(name, "report plot")(rows, path, title):
            drawn.append(path)
    return drawn


def markdown_table(header: list[str], table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in table])
