"""Committed-figure fixes of issue 23, on small synthetic results: labelled reference lines,
error bars inside [0, 1], no repeated title, DGM growth over every seed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import pytest  # noqa: E402

from neuroplastic.papers.dgm import growth_plot  # noqa: E402
from neuroplastic.papers.metaplasticity import memory_plot  # noqa: E402


@pytest.fixture
def drawn(monkeypatch):
    """The figures saved while the test runs (savefig still writes the file)."""
    figures = []
    save = matplotlib.figure.Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return figures


def test_memory_plot_per_width(tmp_path, drawn):
    def rec(hidden, acc, counts):
        entries = [{"accuracy": acc, "memorized": c} for c in counts]
        return {"config": {"model": {"hidden": [hidden, hidden]}},
                "stream": {"tasks": [{"name": str(k)} for k in range(len(counts))]},
                "evaluations": {"item-memory": entries}}

    rows = {"hybrid": [rec(256, [0.3, 0.5, 0.9, 0.99], [1, 2, 3, 3]),
                       rec(256, [0.0, 0.1, 0.2, 0.99], [0, 1, 1, 2]),
                       rec(4096, [0.6, 0.7, 0.9, 0.99], [1, 2, 3, 4])]}
    assert memory_plot(rows, tmp_path / "m.png", "serial position")
    (fig,) = drawn
    titles = [ax.get_title() for ax in fig.axes]
    band = "memorized items (band: range over trials)"
    assert titles == ["serial position: head 256", band, "serial position: head 4096", band]
    # two trials at 256: bars span their range, so they stay inside [0, 1] (mean +- sd of
    # 0.0 and 0.3 would reach below 0)
    (bars,) = [c for c in fig.axes[0].collections if len(c.get_segments())]
    ends = [y for segment in bars.get_segments() for _, y in segment]
    assert min(ends) == pytest.approx(0.0) and max(ends) == pytest.approx(0.99)
    assert fig.axes[0].get_legend_handles_labels()[1][1] == "hybrid (2 trials, bars: range)"
    labels = fig.axes[0].get_legend_handles_labels()[1] + fig.axes[1].get_legend_handles_labels()[1]
    assert "chance (1/4)" in labels and "every item memorized" in labels
    assert not memory_plot({"hybrid": []}, tmp_path / "none.png", "nothing")


def test_memory_plot_labels_the_frequency_and_poisoning_designs(tmp_path, drawn):
    """Item k of the frequency design is the one shown k times, a poisoned run's left panel is
    the last clean pass, and the 'every item memorized' line stops rising at n items."""
    def rec(transforms, presentations):
        entries = [{"accuracy": [0.5, 0.5], "memorized": 1} for _ in range(presentations)]
        return {"config": {"model": {"hidden": [8, 8]}, "transforms": transforms},
                "stream": {"tasks": [{"name": str(k)} for k in range(presentations)]},
                "evaluations": {"item-memory": entries}}

    frequency = [{"name": "repeat", "times": 1, "tasks": [1], "shuffle": True}]
    poisoning = [{"name": "repeat", "times": 2, "tasks": [], "shuffle": False},
                 {"name": "poison", "tasks": [2, 3], "fraction": 1.0, "labels": "permutation"}]
    assert memory_plot({"hybrid": [rec(frequency, 3)]}, tmp_path / "f.png", "frequency")
    assert memory_plot({"hybrid": [rec(poisoning, 6)]}, tmp_path / "p.png", "poisoning")
    assert memory_plot({"hybrid": [rec([], 2)]}, tmp_path / "s.png", "serial position")
    labels = [(f.axes[0].get_xlabel(), f.axes[0].get_ylabel()) for f in drawn]
    assert labels == [("item k (presented k times)", "final accuracy"),
                      ("item position in the sequence", "accuracy after the last clean pass"),
                      ("item position in the sequence", "final accuracy")]
    ideal = [line for line in drawn[1].axes[1].lines if line.get_label() == "every item memorized"]
    assert list(ideal[0].get_xdata()) == [0, 2, 6] and list(ideal[0].get_ydata()) == [0, 2, 2]


def test_dgm_growth_plot_averages_every_seed(tmp_path, drawn):
    def rec(seed, channels):
        growth = [{"task": t, "channels": [c, 2 * c], "free_fraction": 0.5}
                  for t, c in enumerate(channels)]
        return {"seed": seed, "config": {"method": {"name": "dgma"}},
                "method_extra": {"growth": growth}}

    records = {"dgma": [rec(1, [10, 14, 18]), rec(0, [10, 12, 14]), rec(2, [10, 13, 16])]}
    assert growth_plot(records, tmp_path / "g.png", "mnist10")
    (fig,) = drawn
    ax = fig.axes[0]
    assert "seeds 0, 1, 2" in ax.get_title() and "range" in ax.get_title()
    conv1 = ax.get_lines()[0]
    assert list(conv1.get_ydata()) == [10, 13, 16]  # the mean over the three seeds
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 10 and band.max() == 18  # min to max over seeds
