"""The experiments of "Neuromimetic metaplasticity for adaptive continual learning".

Cho, Lee, Baek & Paik (arXiv 2407.07133); protocol from the official MATLAB scripts
``serial_position_effect.m`` (Figs 2-3), ``Hebb_repetition_effect.m`` (Fig 4, with the data
poisoning pass) and ``learning_frequency_varying.m`` (Fig 5), as summarised in papers.md
section 2. Each experiment trains, per trial, several networks that start from the *same*
initial weights and differ only in their flexibility distribution (conventional f = 1, hybrid
f ~ U(0, 1), stable f = 0.3), on a sequence of two-digit MNIST items
(:mod:`neuroplastic.scenarios.two_digit`). After every presentation the per-item accuracy on the
test images of all items is measured, and an item counts as *memorized* when its accuracy is
above chance at p < 0.05 against a label-permutation null (``countMemorizedItems.m``).

The library's pieces do the training: the model is a registered model (default ``mlp``), the
method is ``finetune`` (the default cross-entropy step with the shared head) and the update rule
is the ``metaplastic-sgd`` optimizer, whose ``begin_task`` hook the method base calls at the
start of every presentation.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from . import params as params_mod
from . import record as record_mod
from .errors import ConfigError, UnknownNameError

EXPERIMENTS = ("serial-position", "capacity", "repetition", "poisoning", "frequency")
CONFIG_DIR = Path(__file__).parent / "configs" / "metaplasticity"


@dataclass
class MetaExperimentParams:
    """One metaplasticity experiment. Defaults: the official code (hyperparameters.m)."""

    experiment: Literal["serial-position", "capacity", "repetition", "poisoning", "frequency"] = (
        "serial-position"
    )
    #: two-digit MNIST settings (TwoDigitParams fields: n_items, train_per_item, ...)
    benchmark: dict[str, Any] = field(default_factory=dict)
    #: the network on top of the (frozen) features; the code: fc6 4096 - fc7 4096 - fc8
    model: dict[str, Any] = field(default_factory=lambda: {"name": "mlp", "hidden": [4096, 4096]})
    #: glorot: randn * sqrt(2 / (fan_in + fan_out)) weights and zero biases on every layer with
    #: 2-D weights (initializeWeight.m, ver 1); torch: PyTorch's default initialisation
    init: Literal["glorot", "torch"] = "glorot"
    #: the networks compared (the scripts' nn = 1 conventional, 2 hybrid, 3 stable)
    networks: list[str] = field(default_factory=lambda: ["conventional", "hybrid", "stable"])
    #: metaplastic-sgd settings shared by every network (lr, s, stable_f, recompute, layers...)
    optimizer: dict[str, Any] = field(default_factory=dict)
    epochs: int = 5  # numEpochs per item
    batch_size: int = 1024  # miniBatchSize
    trials: int = 10  # numTrial
    repetitions: int = 1  # passes over the sequence; repTime = 9 for the Hebb experiment
    #: after the repetitions, one pass in which every item's own images carry a fake label
    poison: bool = False
    #: the code's fake labels are a random permutation (its derangement loop never redraws);
    #: True draws a true derangement (no item keeps its own label)
    poison_derangement: bool = False
    shuffles: int = 1000  # shuffleNum: permutations of the test labels for the chance level
    p_value: float = 0.05  # targP in countMemorizedItems.m
    #: ge: p = (1 + #(chance >= observed)) / (1 + shuffles), the standard permutation p-value;
    #: code: p = #(chance > observed) / shuffles (countMemorizedItems.m), which calls an item
    #: with accuracy 0 "memorized" when the network never predicts it (all chances are 0 too)
    pvalue_rule: Literal["ge", "code"] = "ge"
    seed: int = 0
    threads: int | None = 1

    def validate(self) -> None:
        for key in ("epochs", "batch_size", "trials", "repetitions", "shuffles"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key} must be at least 1, got {getattr(self, key)}")
        if not 0 < self.p_value < 1:
            raise ConfigError(f"p_value must be in (0, 1), got {self.p_value}")
        from .plasticity.metaplastic import FLEXIBILITIES

        for net in self.networks:
            if net not in FLEXIBILITIES:
                raise UnknownNameError("network flexibility", net, list(FLEXIBILITIES))
        if "flexibility" in self.optimizer:
            raise ConfigError("set the flexibilities with networks: [...], not optimizer")


def load_config(
    experiment: str, path: str | Path | None = None, overrides: list[str] | None = None
) -> MetaExperimentParams:
    """The experiment's committed config (or ``path``), then ``key=value`` overrides."""
    from . import config as config_mod

    if experiment not in EXPERIMENTS:
        raise UnknownNameError("metaplasticity experiment", experiment, list(EXPERIMENTS))
    path = Path(path) if path is not None else CONFIG_DIR / f"{experiment}.yaml"
    data = config_mod.read_yaml(path)
    data.setdefault("experiment", experiment)
    for text in overrides or []:
        data = _merge(data, config_mod.parse_override(text))
    p = params_mod.build(MetaExperimentParams, data, f"metaplasticity config {path}")
    # validate the nested blocks now, before any training
    from .plasticity.metaplastic import MetaplasticSGDParams
    from .scenarios.two_digit import TwoDigitParams

    params_mod.build(TwoDigitParams, p.benchmark, "benchmark")
    params_mod.build(MetaplasticSGDParams, p.optimizer, "optimizer")
    return p


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# --- statistics ---------------------------------------------------------------------------


def per_item_accuracy(pred: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """Fraction of each item's test images predicted as that item (testModel.m)."""
    hits = np.bincount(y[pred == y], minlength=n).astype(float)
    return hits / np.maximum(np.bincount(y, minlength=n), 1)


def permutation_pvalues(
    pred: np.ndarray,
    y: np.ndarray,
    n: int,
    shuffles: int,
    rng: np.random.Generator,
    rule: str = "ge",
) -> np.ndarray:
    """Per-item p-value of the accuracy against chance from ``shuffles`` permuted test labels.

    As the code: keep the predictions, permute the test labels, recompute every item's
    accuracy. ``rule: code`` is the code's fraction of permutations whose accuracy exceeds the
    observed one strictly (``numel(find(chances > samp)) / numel(chances)``); ``ge`` (default)
    counts ties as exceeding and adds the observed labelling itself, the usual permutation
    p-value, so an item that is never predicted (accuracy 0, every chance 0) gets p = 1.
    """
    observed = per_item_accuracy(pred, y, n)
    exceed = np.zeros(n)
    for _ in range(shuffles):
        chance = per_item_accuracy(pred, rng.permutation(y), n)
        exceed += chance >= observed if rule == "ge" else chance > observed
    if rule == "ge":
        return (exceed + 1) / (shuffles + 1)
    return exceed / shuffles


def memorized(pvalues: np.ndarray, p_value: float = 0.05) -> np.ndarray:
    return pvalues < p_value


# --- orders -------------------------------------------------------------------------------


def frequency_order(n: int, rng: np.random.Generator) -> list[int]:
    """Item k (0-based) presented k + 1 times, n(n+1)/2 presentations in a random order.

    The code reads its orders from ``sample_frequency_profiles.mat`` (20 orders of 55
    presentations, item k shown k times); that file is not part of this library, so the order
    is generated here: a uniformly random arrangement of that multiset, from the trial's seed.
    """
    order = np.concatenate([np.full(k + 1, k) for k in range(n)])
    return [int(i) for i in rng.permutation(order)]


def fake_labels(n: int, rng: np.random.Generator, derangement: bool) -> np.ndarray:
    """The poisoning pass's fake label of each item: a random permutation (the code), or a
    derangement (every item relabelled as another one)."""
    while True:
        perm = rng.permutation(n)
        if not derangement or not np.any(perm == np.arange(n)):
            return perm


# --- one network --------------------------------------------------------------------------


def glorot_(model: nn.Module, generator: torch.Generator) -> None:
    """Glorot-normal weights, zero biases (initializeWeight.m, ver 1) for every Linear layer."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                fan_out, fan_in = m.weight.shape
                std = math.sqrt(2.0 / (fan_in + fan_out))
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
                if m.bias is not None:
                    m.bias.zero_()


class Learner:
    """One network: a model under the ``finetune`` method with the metaplastic-sgd rule."""

    def __init__(self, model: nn.Module, info, flexibility: str, opt: dict, seed: int):
        from .methods.finetune import FineTune
        from .plasticity import optimizer_factory

        factory = optimizer_factory({"name": "metaplastic-sgd", **opt, "flexibility": flexibility,
                                     "seed": seed})
        self.method = FineTune(model, info, None, factory, "cpu")
        self.presentations = 0

    def train(self, x: Tensor, y: Tensor, epochs: int, batch: int, g: torch.Generator) -> float:
        from .scenarios.task import Task

        # a light Task: the method base only reads its index (begin_task -> optimizer hook)
        task = Task(self.presentations, x, y, x[:0], y[:0], [], {})
        self.method.begin_task(task)
        loss = 0.0
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=g).split(batch):
                loss = self.method.observe(x[idx], y[idx], self.presentations)
        self.method.end_task(task)
        self.presentations += 1
        return loss

    def predict(self, x: Tensor) -> np.ndarray:
        self.method.model.eval()
        with torch.inference_mode():
            out = torch.cat([self.method.predict(x[i : i + 2000], None).argmax(1)
                             for i in range(0, len(x), 2000)])
        return out.numpy()


# --- the experiment -----------------------------------------------------------------------


def presentation_plan(p: MetaExperimentParams, n: int, rng: np.random.Generator):
    """[(item, poison_label or None), ...] of one trial."""
    if p.experiment == "frequency":
        order = frequency_order(n, rng)
    else:
        order = list(range(n)) * p.repetitions
    plan: list[tuple[int, int | None]] = [(i, None) for i in order]
    if p.poison:
        fake = fake_labels(n, rng, p.poison_derangement)
        plan += [(i, int(fake[i])) for i in range(n)]
    return plan


def run_trial(p: MetaExperimentParams, trial: int, log=print) -> dict[str, Any]:
    """All networks of one trial on one item sequence; accuracies and p-values after each
    presentation (row 0: before training)."""
    from .models.classifier import build_model
    from .scenarios.task import StreamInfo
    from .scenarios.two_digit import TwoDigitParams, draw_items, load_items, mixed_training_set

    bp = params_mod.build(TwoDigitParams, p.benchmark, "benchmark")
    seed = p.seed + trial
    n = bp.n_items
    categories = list(bp.items) if bp.items is not None else draw_items(n, seed)
    start = time.perf_counter()
    data = load_items(categories, bp)
    data_seconds = time.perf_counter() - start
    x_test, y_test = data.test_set()
    y_np = y_test.numpy()
    info = StreamInfo("class", "shared", n, tuple((k,) for k in range(n)), data.input_shape, n,
                      False)
    model = build_model(dict(p.model), info)
    if p.init == "glorot":
        glorot_(model, torch.Generator().manual_seed(seed))
    rng = np.random.default_rng([seed, 7])
    plan = presentation_plan(p, n, rng)
    # the same training sets for every network (the code builds each item's set once and
    # trains all networks on it)
    out: dict[str, Any] = {"trial": trial, "seed": seed, "items": data.names, "plan": plan,
                           "networks": {}, "data_seconds": data_seconds}
    nets = {name: Learner(copy.deepcopy(model), info, name, p.optimizer, seed)
            for name in p.networks}
    acc = {name: [] for name in nets}
    pvals = {name: [] for name in nets}
    stat_rng = np.random.default_rng([seed, 11])

    def measure(name: str) -> None:
        pred = nets[name].predict(x_test)
        acc[name].append(per_item_accuracy(pred, y_np, n).tolist())
        pv = permutation_pvalues(pred, y_np, n, p.shuffles, stat_rng, p.pvalue_rule)
        pvals[name].append(pv.tolist())

    for name in nets:
        measure(name)
    train_seconds = {name: 0.0 for name in nets}
    for k, (item, poison) in enumerate(plan):
        x, y = mixed_training_set(data, item, rng, bp, poison_label=poison)
        for name, net in nets.items():
            g = torch.Generator().manual_seed(seed * 100003 + k)
            t0 = time.perf_counter()
            net.train(x, y, p.epochs, p.batch_size, g)
            train_seconds[name] += time.perf_counter() - t0
            measure(name)
        if log is not None and (k + 1) % n == 0:
            means = ", ".join(f"{m} {np.mean(acc[m][-1]):.3f}" for m in nets)
            log(f"  trial {trial} presentation {k + 1}/{len(plan)}: mean item accuracy {means}")
    for name, net in nets.items():
        extra = net.method.optimizer.scale_summary()
        out["networks"][name] = {"accuracy": acc[name], "pvalues": pvals[name],
                                 "train_seconds": train_seconds[name],
                                 "state_bytes": net.method.state_bytes(), **extra}
    return out


def run_experiment(p: MetaExperimentParams, out: str | Path, log=print) -> dict[str, Any]:
    """Run every trial, write ``<experiment>.json``, ``.csv``, ``.md`` and ``.png`` in ``out``."""
    if p.threads:
        torch.set_num_threads(p.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    trials = []
    for t in range(p.trials):
        trials.append(run_trial(p, t, log))
    wall = time.perf_counter() - start
    result = {"config": params_mod.to_dict(p), "trials": trials, "wall_seconds": wall}
    summary = summarise(p, trials)
    result["summary"] = summary
    stem = out / p.experiment
    # atomic: a crash never leaves a half-written result that a later run would trust
    record_mod.write_json_atomic(stem.with_suffix(".json"), result)
    write_tables(summary, stem)
    plot(p, summary, stem.with_suffix(".png"))
    return result


# --- summaries, tables and plots ----------------------------------------------------------


def _trained_mask(plan, upto: int, n: int) -> np.ndarray:
    seen = np.zeros(n, dtype=bool)
    for item, _ in plan[:upto]:
        seen[item] = True
    return seen


def summarise(p: MetaExperimentParams, trials: list[dict]) -> dict[str, Any]:
    """Per network, averaged over trials: the serial-position curve (final accuracy of each
    item by position), N(memorized) after each presentation, per-pass accuracies."""
    n = len(trials[0]["items"])
    plan = trials[0]["plan"]
    clean = sum(1 for _, poison in plan if poison is None)
    summary: dict[str, Any] = {"n_items": n, "presentations": len(plan), "clean": clean,
                               "networks": {}}
    for name in trials[0]["networks"]:
        accs = np.array([t["networks"][name]["accuracy"] for t in trials])  # (T, P+1, n)
        pv = np.array([t["networks"][name]["pvalues"] for t in trials])
        mem = pv < p.p_value
        n_mem = []  # memorized among items trained so far, per presentation
        for k in range(len(plan) + 1):
            counts = [int((mem[i, k] & _trained_mask(t["plan"], k, n)).sum())
                      for i, t in enumerate(trials)]
            n_mem.append(counts)
        n_mem_arr = np.array(n_mem, dtype=float)  # (P+1, T)
        entry: dict[str, Any] = {
            "final_accuracy_mean": accs[:, clean].mean(0).tolist(),
            "final_accuracy_std": accs[:, clean].std(0).tolist(),
            "final_memorized": mem[:, clean].mean(0).tolist(),
            "n_memorized_mean": n_mem_arr.mean(1).tolist(),
            "n_memorized_std": n_mem_arr.std(1).tolist(),
            "train_seconds": float(np.sum([t["networks"][name]["train_seconds"] for t in trials])),
            "state_bytes": trials[0]["networks"][name]["state_bytes"],
            "mean_scale_end": float(np.mean([t["networks"][name]["mean_scale"] for t in trials])),
        }
        if p.repetitions > 1:
            entry["pass_accuracy_mean"] = [accs[:, n * (r + 1)].mean(0).tolist()
                                           for r in range(p.repetitions)]
            entry["pass_n_memorized"] = [float(n_mem_arr[n * (r + 1)].mean())
                                         for r in range(p.repetitions)]
        if p.poison:
            entry["poisoned_accuracy_mean"] = accs[:, -1].mean(0).tolist()
            entry["poisoned_n_memorized"] = [float(x) for x in n_mem_arr[clean:].mean(1)]
        if p.experiment == "frequency":
            counts = np.bincount([i for i, _ in plan], minlength=n)
            entry["presentations_per_item"] = counts.tolist()
        summary["networks"][name] = entry
    return summary


def table_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    n = summary["n_items"]
    header = ["network"] + [f"item {k + 1}" for k in range(n)] + [
        "mean acc", "N memorized (final)"]
    rows = []
    for name, e in summary["networks"].items():
        rows.append([name] + [f"{a:.3f}" for a in e["final_accuracy_mean"]] + [
            f"{np.mean(e['final_accuracy_mean']):.3f}",
            f"{e['n_memorized_mean'][summary['clean']]:.1f} ± "
            f"{e['n_memorized_std'][summary['clean']]:.1f}"])
        if "pass_accuracy_mean" in e:
            for r, (accs, nm) in enumerate(zip(e["pass_accuracy_mean"], e["pass_n_memorized"],
                                               strict=True)):
                rows.append([f"{name}, pass {r + 1}"] + [f"{a:.3f}" for a in accs] + [
                    f"{np.mean(accs):.3f}", f"{nm:.1f}"])
        if "poisoned_accuracy_mean" in e:
            accs = e["poisoned_accuracy_mean"]
            rows.append([f"{name}, after poisoning"] + [f"{a:.3f}" for a in accs] + [
                f"{np.mean(accs):.3f}", f"{e['poisoned_n_memorized'][-1]:.1f}"])
        if "presentations_per_item" in e:
            rows.append([f"{name}, presentations"] + [str(c) for c in
                                                      e["presentations_per_item"]] + ["", ""])
    return header, rows


def format_markdown(summary: dict[str, Any]) -> str:
    header, rows = table_rows(summary)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_tables(summary: dict[str, Any], stem: Path) -> None:
    header, rows = table_rows(summary)
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    stem.with_suffix(".md").write_text(format_markdown(summary) + "\n")


def plot_title(experiment: str, n: int) -> str:
    """The left panel's title: the experiment's name once ("serial-position: serial position"
    said it twice), and for the others what the panel shows."""
    if experiment == "serial-position":
        return f"serial position ({n} items)"
    return f"{experiment}: accuracy by serial position ({n} items)"


def plot(p: MetaExperimentParams, summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = summary["n_items"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for name, e in summary["networks"].items():
        mean, std = np.array(e["final_accuracy_mean"]), np.array(e["final_accuracy_std"])
        # a standard deviation drawn as +-std crosses 0 for items near chance; accuracy cannot,
        # so the bars are cut at 0 and 1
        yerr = np.stack([np.minimum(std, mean), np.minimum(std, 1.0 - mean)])
        ax.errorbar(np.arange(1, n + 1), mean, yerr=yerr, marker="o", capsize=2,
                    label=f"{name} (mean ± sd over trials)")
        if "pass_accuracy_mean" in e and p.experiment in ("repetition", "poisoning"):
            for r in (0, len(e["pass_accuracy_mean"]) // 2):
                ax.plot(np.arange(1, n + 1), e["pass_accuracy_mean"][r], ls=":", alpha=0.6,
                        label=f"{name}, pass {r + 1}")
        if "poisoned_accuracy_mean" in e:
            ax.plot(np.arange(1, n + 1), e["poisoned_accuracy_mean"], ls="--",
                    label=f"{name}, after poisoning")
    ax.axhline(1.0 / n, color="grey", lw=0.8, ls="--", label=f"chance (1/{n})")
    ax.set_xlabel("item k (presented k times)" if p.experiment == "frequency"
                  else "item position in the sequence")
    ax.set_ylabel("accuracy after the last clean presentation")
    ax.set_ylim(0, 1.02)
    ax.set_title(plot_title(p.experiment, n))
    ax.legend(fontsize=7)
    ax = axes[1]
    for name, e in summary["networks"].items():
        k = np.arange(len(e["n_memorized_mean"]))
        ax.plot(k, e["n_memorized_mean"], label=name)
    ax.plot([0, n], [0, n], color="grey", lw=0.8, ls="--", label="every item memorized")
    ax.set_xlabel("presentations trained")
    ax.set_ylabel(f"N(memorized), p < {p.p_value}")
    ax.set_title("memorized items")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the paper's claims, checked (papers.md section 2; the paper gives figures only) --------


def claims(experiment: str, summary: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(claim and the rule that checks it, measured, holds) for the networks of ``summary``.
    The rules are this library's reading of the paper's qualitative claims; N memorized is the
    number of items above chance (p < p_value), mean over trials."""
    nets, n, clean = summary["networks"], summary["n_items"], summary["clean"]
    out: list[tuple[str, str, bool | None]] = []

    def ends(name: str) -> tuple[float, float, float, bool, bool]:
        acc = nets[name]["final_accuracy_mean"]
        top = max(acc)
        return acc[0], acc[-1], float(np.mean(acc)), acc[0] == top, acc[-1] == top

    def n_mem(name: str) -> float:
        return nets[name]["n_memorized_mean"][clean]

    if experiment == "serial-position":
        # final accuracies, not the memorized test: a network that answers only the last item
        # is 100 % right on it and still at chance (the label-permutation null does as well)
        if "conventional" in nets:
            first, last, mean, _, last_top = ends("conventional")
            out.append(("conventional: recency only, early items forgotten (the last item is "
                        "the most accurate, the first below the mean over items)",
                        f"first {first:.2f}, last {last:.2f}, mean {mean:.2f}",
                        last_top and first < mean))
        if "stable" in nets:
            first, last, mean, first_top, _ = ends("stable")
            out.append(("stable: primacy only, later items not learnt (the first item is the "
                        "most accurate, the last below the mean over items)",
                        f"first {first:.2f}, last {last:.2f}, mean {mean:.2f}",
                        first_top and last < mean))
        if "hybrid" in nets:
            out.append((f"hybrid: memorizes all {n} items",
                        f"{n_mem('hybrid'):.1f} of {n}", n_mem("hybrid") >= n))
    elif experiment == "capacity" and "hybrid" in nets:
        others = [k for k in nets if k != "hybrid"]
        text = ", ".join(f"{k} {n_mem(k):.1f} (acc {np.mean(nets[k]['final_accuracy_mean']):.3f})"
                         for k in nets)
        out.append((f"hybrid at {n} items: more items above chance, at lower per-item accuracy "
                    "(checked as: more items memorized than every other network)",
                    f"N memorized: {text}", all(n_mem("hybrid") > n_mem(k) for k in others)))
    elif experiment == "repetition" and "hybrid" in nets and n > 2:
        passes = nets["hybrid"].get("pass_accuracy_mean") or []
        if len(passes) > 1:
            first, last = (float(np.mean(p[1:-1])) for p in (passes[0], passes[-1]))
            out.append(("hybrid: repetition raises middle-item accuracy (items 2 to n-1, last "
                        "pass vs first)", f"{first:.3f} -> {last:.3f}", last > first))
    elif experiment == "poisoning":
        # "keeps" and "loses" as mean counts over trials: the hybrid keeps at least 90 % of the
        # items it had memorized before the shuffled pass, the conventional network loses at
        # least half of its own
        for name, keeps in (("hybrid", True), ("conventional", False)):
            if name in nets and "poisoned_n_memorized" in nets[name]:
                before, after = n_mem(name), nets[name]["poisoned_n_memorized"][-1]
                rule = ("keeps its items (N memorized after >= 0.9 x before)" if keeps
                        else "loses its items (N memorized after <= 0.5 x before)")
                holds = after >= 0.9 * before if keeps else after <= 0.5 * before
                out.append((f"{name}: through the poisoned pass {rule}",
                            f"{before:.1f} -> {after:.1f} of {n}", bool(holds)))
    elif experiment == "frequency" and "hybrid" in nets:
        e = nets["hybrid"]
        order = np.argsort(e["presentations_per_item"], kind="stable")
        acc = np.asarray(e["final_accuracy_mean"])
        rare, often = float(acc[order[: n // 2]].mean()), float(acc[order[n // 2:]].mean())
        out.append(("hybrid: frequently presented items retained preferentially (mean accuracy "
                    "of the more presented half > the less presented half)",
                    f"{rare:.3f} (rare) vs {often:.3f} (frequent)", often > rare))
    return out
