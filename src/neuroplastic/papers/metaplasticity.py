"""Cho, Lee, Baek & Paik, "Neuromimetic metaplasticity for adaptive continual learning" (arXiv
2407.07133; official MATLAB code vsnnlab/Metaplasticity): the claims the protocols of
``protocols/metaplasticity/`` check, and the memorized-items curve.

The paper gives figures only (papers.md section 2), so each claim is this library's reading of a
qualitative statement, written next to its rule. Every record holds the ``item-memory``
evaluator's entry after each presentation (``evaluators/item_memory.py``): per-item accuracy,
permutation p-values and ``memorized``, the number of trained items above chance at p < 0.05.
Rows are the networks (``conventional``, ``hybrid``, ``stable``), seeds are trials; a protocol
with several head widths (``metaplasticity-width.yaml``) is checked per width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import Claim, Rows

Record = dict[str, Any]


def entries(rec: Record) -> list[dict[str, Any]]:
    """The item-memory entries of a record, one per presentation."""
    return rec.get("evaluations", {}).get("item-memory") or []


def clean_count(rec: Record) -> int:
    """Presentations before the first poisoned one (all of them without poisoning)."""
    names = [t["name"] for t in rec["stream"]["tasks"]]
    return next((i for i, n in enumerate(names) if "(poisoned)" in n), len(names))


def width(rec: Record) -> int:
    hidden = rec["config"]["model"].get("hidden") or [0]
    return int(hidden[0])


def by_width(rows: Rows) -> dict[int, dict[str, list[Record]]]:
    """{head width: {row: [records with item-memory entries]}}, widths ascending."""
    out: dict[int, dict[str, list[Record]]] = {}
    for label, recs in rows.items():
        for rec in recs:
            if entries(rec):
                out.setdefault(width(rec), {}).setdefault(label, []).append(rec)
    return dict(sorted(out.items()))


def memorized_curves(records: list[Record]) -> np.ndarray:
    """N(memorized) after each presentation (0 before the first), one row per seed."""
    return np.array([[0] + [e["memorized"] for e in entries(r)] for r in records], float)


def final_accuracies(records: list[Record], at: int | None = None) -> np.ndarray:
    """Per-item accuracy (items in label order = serial position) after presentation ``at``
    (default: the last clean one), one row per seed."""
    rows = [entries(r)[(clean_count(r) if at is None else at + 1) - 1]["accuracy"]
            for r in records]
    return np.asarray(rows, float)


def final_accuracy(records: list[Record], at: int | None = None) -> np.ndarray:
    """``final_accuracies`` averaged over seeds."""
    return final_accuracies(records, at).mean(0)


def n_memorized(records: list[Record], at: int | None = None) -> float:
    """Mean over seeds of N(memorized) after presentation ``at`` (default: last clean one)."""
    return float(np.mean([entries(r)[(clean_count(r) if at is None else at + 1) - 1]["memorized"]
                          for r in records]))


def memory(rec: Record) -> dict[str, float]:
    """Report columns: N(memorized) after the last clean presentation (and after the poisoned
    pass, when there is one), and the final accuracy of the first and the last item."""
    found = entries(rec)
    if not found:
        return {}
    clean = clean_count(rec)
    acc = found[clean - 1]["accuracy"]
    out = {"N memorized": float(found[clean - 1]["memorized"])}
    if clean < len(found):
        out["after poisoning"] = float(found[-1]["memorized"])
    out.update({"item 1 %": 100 * acc[0], f"item {len(acc)} %": 100 * acc[-1]})
    return out


def _scope(w: int, several: bool) -> str:
    return f" [head {w}]" if several else ""


def _missing(text: str, needed: list[str]) -> Claim:
    return Claim(text, f"not run yet: {', '.join(needed)}", None)


def serial_position(rows: Rows) -> list[Claim]:
    """Fig 2: recency only (conventional), primacy only (stable), all items memorized after one
    pass (hybrid). Final accuracies for the first two (a network that answers only the last
    item is right on it and at chance elsewhere), the memorized count for the hybrid."""
    groups = by_width(rows)
    if not groups:
        return [_missing("hybrid: memorizes all items after one pass", list(rows))]
    out = []
    for w, nets in groups.items():
        tag = _scope(w, len(groups) > 1)
        if "conventional" in nets:
            acc = final_accuracy(nets["conventional"])
            out.append(Claim(
                "conventional: recency only, early items forgotten (the last item is the most "
                "accurate, the first below the mean over items)" + tag,
                f"first {acc[0]:.2f}, last {acc[-1]:.2f}, mean {acc.mean():.2f}",
                bool(acc[-1] == acc.max() and acc[0] < acc.mean())))
        if "stable" in nets:
            acc = final_accuracy(nets["stable"])
            out.append(Claim(
                "stable: primacy only, later items not learnt (the first item is the most "
                "accurate, the last below the mean over items)" + tag,
                f"first {acc[0]:.2f}, last {acc[-1]:.2f}, mean {acc.mean():.2f}",
                bool(acc[0] == acc.max() and acc[-1] < acc.mean())))
        if "hybrid" in nets:
            recs = nets["hybrid"]
            n = len(entries(recs[0])[0]["accuracy"])
            counts = [entries(r)[clean_count(r) - 1]["memorized"] for r in recs]
            out.append(Claim(
                f"hybrid: memorizes all {n} items after one pass (every trial)" + tag,
                f"{np.mean(counts):.1f} of {n} (trials: {', '.join(map(str, counts))})",
                bool(min(counts) >= n)))
    return out


def capacity(rows: Rows) -> list[Claim]:
    """Fig 3: at 30 items the hybrid keeps more items above chance than the other networks."""
    out = []
    groups = by_width(rows)
    text = ("hybrid at 30 items: more items above chance, at lower per-item accuracy (checked "
            "as: more items memorized than every other network, mean over trials)")
    if not groups:
        return [_missing(text, list(rows))]
    for w, nets in groups.items():
        if "hybrid" not in nets or len(nets) < 2:
            out.append(Claim(text, f"needs the hybrid and another network; run: {', '.join(nets)}",
                             None))
            continue
        mem = {k: n_memorized(v) for k, v in nets.items()}
        acc = {k: float(final_accuracy(v).mean()) for k, v in nets.items()}
        measured = ", ".join(f"{k} {mem[k]:.1f} (acc {acc[k]:.3f})" for k in nets)
        out.append(Claim(text + _scope(w, len(groups) > 1), f"N memorized: {measured}",
                         all(mem["hybrid"] > mem[k] for k in nets if k != "hybrid")))
    return out


def repetition(rows: Rows) -> list[Claim]:
    """Fig 4: repeating the sequence raises the hybrid's accuracy on the middle items."""
    text = "hybrid: repetition raises middle-item accuracy (items 2 to n-1, last pass vs first)"
    hybrid = rows.get("hybrid") or []
    recs = [r for r in hybrid if entries(r)]
    if not recs:
        return [_missing(text, ["hybrid"])]
    n = len(entries(recs[0])[0]["accuracy"])
    first = float(final_accuracy(recs, at=n - 1)[1:-1].mean())
    last = float(final_accuracy(recs)[1:-1].mean())
    return [Claim(text, f"{first:.3f} -> {last:.3f}", last > first)]


def poisoning(rows: Rows) -> list[Claim]:
    """Fig 4 (poisoning): through the pass with fake labels the hybrid keeps at least 90 % of
    the items it had memorized, the conventional network loses at least half of its own
    (mean counts over trials)."""
    out = []
    for name, keeps in (("hybrid", True), ("conventional", False)):
        rule = ("keeps its items (N memorized after >= 0.9 x before)" if keeps
                else "loses its items (N memorized after <= 0.5 x before)")
        text = f"{name}: through the poisoned pass {rule}"
        recs = [r for r in rows.get(name) or [] if entries(r)]
        if not recs:
            out.append(_missing(text, [name]))
            continue
        n = len(entries(recs[0])[0]["accuracy"])
        before = n_memorized(recs)
        after = float(np.mean([entries(r)[-1]["memorized"] for r in recs]))
        holds = after >= 0.9 * before if keeps else after <= 0.5 * before
        out.append(Claim(text, f"{before:.1f} -> {after:.1f} of {n}", bool(holds)))
    return out


def presentations(rec: Record) -> np.ndarray:
    """How many times each item was presented (from the record's stream)."""
    n = len(entries(rec)[0]["accuracy"])
    return np.bincount([c for t in rec["stream"]["tasks"] for c in t["classes"]], minlength=n)


def frequency(rows: Rows) -> list[Claim]:
    """Fig 5: items presented more often are retained preferentially by the hybrid."""
    text = ("hybrid: frequently presented items retained preferentially (mean accuracy of the "
            "more presented half > the less presented half)")
    recs = [r for r in rows.get("hybrid") or [] if entries(r)]
    if not recs:
        return [_missing(text, ["hybrid"])]
    order = np.argsort(presentations(recs[0]), kind="stable")
    acc = final_accuracy(recs)
    half = len(order) // 2
    rare, often = float(acc[order[:half]].mean()), float(acc[order[half:]].mean())
    return [Claim(text, f"{rare:.3f} (rare) vs {often:.3f} (frequent)", often > rare)]


def _axis_labels(rec: Record) -> tuple[str, str]:
    """The left panel's axes for the experiment the record ran: items are numbered in the order
    first shown, except in the frequency design (a shuffled ``repeat`` listing items again),
    where item k is shown k times; after a poisoned pass the accuracy shown is the last clean
    one (``final_accuracies``)."""
    transforms = rec.get("config", {}).get("transforms") or []
    names = {t.get("name") for t in transforms}
    frequency = any(t.get("name") == "repeat" and t.get("shuffle") and t.get("tasks")
                    for t in transforms)
    xlabel = "item k (presented k times)" if frequency else "item position in the sequence"
    ylabel = "accuracy after the last clean pass" if "poison" in names else "final accuracy"
    return xlabel, ylabel


def memory_plot(rows: Rows, path, title: str) -> bool:
    """The paper's two panels per head width: final accuracy by serial position, and
    N(memorized) against presentations trained (mean over trials); False when nothing ran."""
    groups = by_width(rows)
    if not groups:
        return False
    from matplotlib.figure import Figure  # no pyplot: the process's backend is left alone

    fig = Figure(figsize=(11, 3.6 * len(groups)))
    axes = fig.subplots(len(groups), 2, squeeze=False)
    for (w, nets), (left, right) in zip(groups.items(), axes, strict=True):
        last = 0  # presentations of the longest run
        for name, recs in nets.items():
            # mean over trials; the bars and bands span the trials' range (min to max), so
            # they stay inside [0, 1] and [0, n], unlike mean +- sd
            accs = final_accuracies(recs)
            acc = accs.mean(0)
            n = len(acc)
            spread = len(recs) > 1
            label = f"{name} ({len(recs)} trials{', bars: range' if spread else ''})"
            yerr = np.stack([acc - accs.min(0), accs.max(0) - acc]) if spread else None
            left.errorbar(np.arange(1, n + 1), acc, yerr=yerr, marker="o", capsize=2,
                          label=label)
            curves = memorized_curves(recs)
            steps = np.arange(curves.shape[1])
            last = max(last, len(steps) - 1)
            line = right.plot(steps, curves.mean(0), label=name)[0]
            if spread:
                right.fill_between(steps, curves.min(0), curves.max(0), color=line.get_color(),
                                   alpha=0.15)
        left.axhline(1.0 / n, color="grey", lw=0.8, ls="--", label=f"chance (1/{n})")
        xlabel, ylabel = _axis_labels(next(iter(nets.values()))[0])
        left.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02), title=f"{title}: head {w}")
        # every item memorized once shown: N rises by one per new item, then stays at n (the
        # repetition, poisoning and frequency streams show items again)
        right.plot([0, n, max(n, last)], [0, n, n], color="grey", lw=0.8, ls="--",
                   label="every item memorized")
        right.set(xlabel="presentations trained", ylabel="N(memorized), p < 0.05",
                  title="memorized items (band: range over trials)")
        left.legend(fontsize=7)
        right.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return True
