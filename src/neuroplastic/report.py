"""Reports: one Markdown and one self-contained HTML page from every run record in a folder.

Per benchmark and scenario: a table of mean ± sample standard deviation over seeds per method
(average accuracy, forgetting, BWT, train time, peak memory, state bytes), the accuracy-matrix
heatmaps (mean over seeds), the accuracy-over-tasks curves (average accuracy on the tasks seen
so far, after each task) and a scatter of final accuracy against the memory a method keeps.

Records are averaged only within a group of identical configs (seed aside) and one library
version (see ``aggregate``); groups of one method that differ elsewhere get a label naming
the differing keys. The HTML page inlines its PNG plots as base64; the Markdown page links to
PNG files written beside it in ``<prefix>_files/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import record as record_mod
from .aggregate import Group, differing_keys, group_records, mean_std
from .errors import ConfigError

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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _heatmaps(groups: list[Group], labels: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(groups)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, g in zip(axes.flat, groups, strict=False):
        m = g.mean_matrix()
        ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(f"{_name(g, labels)} (n={len(g.records)})", fontsize=8)
        ax.set_xlabel("evaluated on task", fontsize=7)
        ax.set_ylabel("after training task", fontsize=7)
        ax.tick_params(labelsize=6)
        if len(m) <= 10:
            for i, row in enumerate(m):
                for j, v in enumerate(row):
                    ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if v < 0.6 else "black")
    fig.tight_layout()
    return _png(fig)


def _seen_average(matrix: list[list[float]]) -> list[float]:
    """Average accuracy on the tasks seen so far, after each task (row i, columns 0..i)."""
    return [sum(row[: i + 1]) / (i + 1) for i, row in enumerate(matrix)]


def _curves(groups: list[Group], labels: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for i, g in enumerate(groups):
        per_seed = [_seen_average(r["accuracy_matrix"]) for r in g.records]
        steps = len(per_seed[0])
        stats = [mean_std([s[i] for s in per_seed if len(s) > i]) for i in range(steps)]
        x = list(range(1, steps + 1))
        mean = [100 * s[0] for s in stats]
        std = [100 * s[1] for s in stats]
        line = ax.plot(x, mean, marker=MARKERS[i // 10 % 3], ms=3, label=_name(g, labels),
                       linestyle="-" if i < 10 else "--")[0]
        ax.fill_between(x, [m - s for m, s in zip(mean, std, strict=True)],
                        [m + s for m, s in zip(mean, std, strict=True)],
                        color=line.get_color(), alpha=0.15)
    ax.set_xticks(range(1, 1 + max(len(g.records[0]["accuracy_matrix"]) for g in groups)))
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("average accuracy on seen tasks (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)


def _scatter(groups: list[Group], labels: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for i, g in enumerate(groups):
        acc, mem = g.stat("average_accuracy"), g.stat("state_bytes")
        if acc is None or mem is None:
            continue
        # the colour cycle has 10 colours: a second marker shape keeps 11+ methods apart
        ax.errorbar(mem[0] / 1e6, 100 * acc[0], yerr=100 * acc[1], fmt=MARKERS[i // 10 % 3],
                    capsize=3, label=_name(g, labels))
    ax.set_xlabel("state kept by the method (MB, model + method + optimizer)")
    ax.set_ylabel("average accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)


def build_sections(records: list[dict[str, Any]], plots: bool = True) -> list[Section]:
    groups = group_records(records)
    labels = differing_keys(groups)
    versions = {g.version for g in groups}
    by_pair: dict[tuple[str, str], list[Group]] = {}
    for g in groups:
        by_pair.setdefault((g.benchmark, g.scenario), []).append(g)
    sections = []
    for (bench, scenario), members in sorted(by_pair.items()):
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
        figures = []
        if plots:
            base = _slug(f"{bench}-{scenario}")
            figures = [
                Figure("Accuracy matrices (mean over seeds; row = after task, column = task)",
                       f"{base}-matrices", _heatmaps(members, labels)),
                Figure("Average accuracy on the tasks seen so far (mean ± std over seeds)",
                       f"{base}-curves", _curves(members, labels)),
                Figure("Average accuracy against the state each method keeps",
                       f"{base}-memory", _scatter(members, labels)),
            ]
        sections.append(Section(bench, scenario, members, header, rows, figures))
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
        f"{len(records)} run records from `{folder}`, in {n_groups} groups "
        f"(neuroplastic {', '.join(versions)}; device {', '.join(devices)}).",
        "Values are mean ± sample standard deviation over the seeds listed. Records are "
        "averaged only when their configs are identical apart from the seed and they come "
        "from the same library version.",
    ]


def to_markdown(folder: Path, records, sections, failures, files_dir: Path | None) -> str:
    lines = ["# neuroplastic report", "", *_intro(folder, records, sections), ""]
    lines.append(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    for s in sections:
        lines += ["", f"## {s.benchmark}, {s.scenario}-incremental", ""]
        lines.append("| " + " | ".join(s.header) + " |")
        lines.append("|" + "|".join("---" for _ in s.header) + "|")
        lines += ["| " + " | ".join(r) + " |" for r in s.rows]
        for f in s.figures:
            if files_dir is not None:
                lines += ["", f"**{f.title}**", "", f"![{f.title}]({files_dir.name}/{f.slug}.png)"]
    if failures:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{name}`: {error}" for name, error in failures]
    return "\n".join(lines) + "\n"


def to_html(folder: Path, records, sections, failures) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>neuroplastic report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>",
        "<h1>neuroplastic report</h1>",
        *[f"<p>{e(p)}</p>" for p in _intro(folder, records, sections)],
    ]
    for s in sections:
        parts.append(f"<h2>{e(s.benchmark)}, {e(s.scenario)}-incremental</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in s.header) + "</tr>")
        for r in s.rows:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
        parts.append("</table>")
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


def write_report(folder: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``<out>.md`` (with PNGs in ``<out>_files/``) and ``<out>.html`` (self-contained)
    from every record under ``folder``; ``out`` defaults to ``<folder>/report``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"report: {str(folder)!r} is not a folder")
    records = record_mod.load_all(folder)
    if not records:
        raise ConfigError(f"report: no run records (*.json with an accuracy matrix) in {folder}")
    prefix = Path(out) if out is not None else folder / "report"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    sections = build_sections(records)
    failures = _failures(folder)
    files_dir = prefix.with_name(prefix.name + "_files")
    files_dir.mkdir(exist_ok=True)
    for s in sections:
        for f in s.figures:
            (files_dir / f"{f.slug}.png").write_bytes(f.png)
    md = prefix.with_name(prefix.name + ".md")
    page = prefix.with_name(prefix.name + ".html")
    md.write_text(to_markdown(folder, records, sections, failures, files_dir))
    page.write_text(to_html(folder, records, sections, failures))
    return md, page
