"""Committed-figure fixes of issue 23, on small synthetic results: labelled reference lines,
error bars inside [0, 1], no repeated title, DGM growth over every seed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.figure  # noqa: E402
import pytest  # noqa: E402

from neuroplastic.metaplasticity_experiments import MetaExperimentParams, plot  # noqa: E402
from neuroplastic.papers.dgm import growth_plot  # noqa: E402


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


def test_serial_position_plot(tmp_path, drawn):
    n = 4
    summary = {
        "n_items": n,
        "networks": {
            "hybrid": {"final_accuracy_mean": [0.02, 0.5, 0.9, 0.99],
                       "final_accuracy_std": [0.05, 0.1, 0.2, 0.05],
                       "n_memorized_mean": [0, 1, 2, 3, 4]},
        },
    }
    plot(MetaExperimentParams(experiment="serial-position"), summary, tmp_path / "p.png")
    (fig,) = drawn
    left, right = fig.axes
    assert left.get_title() == "serial position (4 items)"  # not "serial-position: serial ..."
    labels = left.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    assert "chance (1/4)" in labels and "every item memorized" in labels
    (bars,) = left.containers
    lows = [seg[0][1] for seg in bars.lines[2][0].get_segments()]
    highs = [seg[1][1] for seg in bars.lines[2][0].get_segments()]
    assert min(lows) >= 0.0 and max(highs) <= 1.0  # 0.02 - 0.05 would be below 0


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
