"""The synapse atlas: every reported state is the method's own tensor, the evaluator changes no
training, its summaries survive a checkpoint and resume, and ``neuroplastic atlas`` draws pages
from the records of a tiny run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core_fixtures import digits_stream, one_thread  # noqa: F401  (autouse)
from neuroplastic import params as params_mod
from neuroplastic.engine import TrainSettings, run_stream
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.evaluators import build as build_evaluators
from neuroplastic.evaluators.synapse_atlas import histogram, top_mask
from neuroplastic.models import build_model
from neuroplastic.plasticity import optimizer_factory
from neuroplastic.plasticity.adam_meta import AdamMeta
from neuroplastic.registry import METHODS
from test_checkpoints import _build, _Stop, _stop_after_first

SETTINGS = TrainSettings(epochs=1, batch_size=64)



def _atlas(**settings):
    return build_evaluators([{"name": "synapse-atlas", **settings}], 1000)


def _with_optimizer(method: str, optimizer: dict, seed: int = 0, n_tasks: int = 3):
    """A tiny MLP run of ``method`` under the update rule ``optimizer``."""
    stream = digits_stream("class", n_tasks=n_tasks)
    torch.manual_seed(seed)
    model = build_model({"name": "mlp", "hidden": [32]}, stream.info)
    cls = METHODS.get(method).obj
    params = params_mod.build(cls.Params, {}, method)
    return cls(model, stream.info, params, optimizer_factory(optimizer)), stream


CLASSP = {"name": "classp", "lr": 0.05, "threshold": 1e-6}
METAPLASTIC = {"name": "metaplastic-sgd", "lr": 0.05, "s": 50.0}


# --- each state is the method's own tensor ---------------------------------------------------
def test_ewc_importance_is_the_fisher_the_penalty_uses():
    method, stream, settings = _build("ewc", seed=0)
    run_stream(method, stream, settings, seed=0, progress=False)
    fisher = method.synapse_state()["fisher"]
    weight = method._completed_square()[0]  # what penalty() weighs (theta - c)^2 by
    assert fisher.consolidated == "high"
    expected = method.named_flat(weight)
    assert set(fisher.tensors) == set(expected) and expected
    for name, t in fisher.tensors.items():
        assert torch.equal(t, expected[name])
    # and it is the sum of the stored per-task Fisher rows (offline EWC)
    total = method.named_flat(method.fishers.sum(0))
    for name, t in fisher.tensors.items():
        assert torch.allclose(t, total[name])


def test_ewc_separate_importance_is_its_separate_models_fisher():
    method, stream, settings = _build("ewc-separate", seed=0)
    run_stream(method, stream, settings, seed=0, progress=False)
    fisher = method.synapse_state()["fisher"].tensors
    for name, t in method.named_flat(method.fisher).items():
        assert t.data_ptr() == fisher[name].data_ptr()  # a view of the penalty's tensor


@pytest.mark.parametrize("name", ["si", "mas"])
def test_si_and_mas_importance_is_the_omega_the_penalty_uses(name):
    method, stream, settings = _build(name, seed=0)
    run_stream(method, stream, settings, seed=0, progress=False)
    omega = method.synapse_state()["omega"].tensors
    views = method.named_flat(method.omega)
    assert omega and set(omega) == set(views)
    for layer, t in omega.items():
        assert t.data_ptr() == views[layer].data_ptr() and torch.equal(t, views[layer])


def test_f_meta_is_what_adam_meta_multiplies_by():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(6, 5))
    opt = AdamMeta([w], lr=0.01, meta=1.35)
    f_meta = opt.synapse_state({id(w): "w"})["f_meta"].tensors["w"]
    assert torch.allclose(f_meta, 1 - torch.tanh(1.35 * w.detach().abs()) ** 2)
    # a gradient of the weight's own sign: every update points toward zero, so all attenuated
    w.grad = torch.sign(w.detach()) * 0.3
    before = w.detach().clone()
    opt.step()
    m = 0.1 * w.grad  # (1 - beta1) g after one step
    denom = (0.001 * w.grad * w.grad).sqrt().add_(1e-8)
    step_size = 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9)
    expected = before.addcdiv(f_meta * m, denom, value=-step_size)
    assert torch.equal(w.detach(), expected)  # bit for bit: the same factor


def test_mbnn_reports_f_meta_and_sign_flips():
    method, stream, settings = _build("mbnn", seed=0)
    atlas = _atlas()
    _, state = run_stream(method, stream, settings, seed=0, progress=False, evaluators=atlas)
    entry = state.evaluations["synapse-atlas"][-1]
    assert "f_meta" in entry["states"]
    flips = [w["sign_flip_fraction"] for w in entry["weights"].values()]
    assert flips and all(0 <= f <= 1 for f in flips) and any(f > 0 for f in flips)
    f_meta = entry["states"]["f_meta"]["layers"]
    assert all(0 <= s["min"] <= s["max"] <= 1 for s in f_meta.values())
    kept = entry["protected_flip_fraction"]["f_meta"]
    assert kept and all(0 <= f <= 1 for f in kept.values())
    # m = 0: f_meta is 1 everywhere and ranks nothing (no overlap claimed); |W_h| still does
    method, stream, settings = _build("mbnn", seed=0)
    method.optimizer_factory.params.meta = [0.0]
    method.optimizer = method.optimizer_factory.build(method.trainable_parameters())
    _, state = run_stream(method, stream, settings, seed=0, progress=False, evaluators=_atlas())
    assert all("f_meta" not in e["overlap"] for e in state.evaluations["synapse-atlas"])
    assert "hidden_magnitude" in state.evaluations["synapse-atlas"][-1]["overlap"]


def test_dgm_reserved_weights_do_not_change_in_later_tasks():
    method, stream, settings = _build("dgmw", seed=0)
    _, state = run_stream(method, stream, settings, seed=0, progress=False, evaluators=_atlas())
    last = state.evaluations["synapse-atlas"][-1]
    ratios = last["protected_change_ratio"]["reserved"]
    assert ratios and all(r == 0.0 for r in ratios.values())
    assert all(o == 0.0 for o in last["overlap"]["reserved"].values())


def test_classp_accumulator_is_the_optimizers_state_and_growth_is_let_through():
    method, stream = _with_optimizer("finetune", CLASSP)
    atlas = _atlas()
    starts = {}

    def remember(index, state):
        starts[index] = {n: w.detach().clone() for n, w in method.synapse_weights().items()}

    _, state = run_stream(method, stream, SETTINGS, seed=0, progress=False, evaluators=atlas,
                          on_task_end=remember)
    opt = method.optimizer
    states = method.synapse_state()
    names = {id(p): n for n, p in method.model.named_parameters()}
    for p in method.trainable_parameters():
        if p.dim() >= 2:
            acc = states["accumulator"].tensors[names[id(p)]]
            assert acc is opt.state[p]["grad_sum"]
            assert torch.equal(states["step_multiplier"].tensors[names[id(p)]],
                               (acc + 1e-5).pow(1.0).reciprocal())
    # the accumulator grows exactly where the threshold let an update through, i.e. where the
    # weight moved during the task
    last = state.evaluations["synapse-atlas"][-1]
    for layer, summary in last["states"]["accumulator"]["layers"].items():
        before = starts[1][layer]
        moved = float((method.synapse_weights()[layer].detach() != before).float().mean())
        assert summary["grew_fraction"] == pytest.approx(moved, abs=1e-6)
        assert 0 < moved < 1  # the threshold holds some weights back


def test_metaplastic_sgd_states_are_the_optimizers_tensors():
    method, stream = _with_optimizer("finetune", METAPLASTIC)
    run_stream(method, stream, SETTINGS, seed=0, progress=False, evaluators=_atlas())
    opt = method.optimizer
    states = method.synapse_state()
    names = {id(p): n for n, p in method.model.named_parameters()}
    for q in opt._metaplastic:
        assert states["flexibility"].tensors[names[id(q)]] is opt.state[q]["flexibility"]
        assert states["scale"].tensors[names[id(q)]] is opt.state[q]["scale"]
    assert states["scale"].threshold == 0.5


def test_finetune_reports_weight_change_only():
    method, stream, settings = _build("finetune", seed=0)
    assert method.synapse_state() == {}
    _, state = run_stream(method, stream, settings, seed=0, progress=False, evaluators=_atlas())
    entry = state.evaluations["synapse-atlas"][0]
    assert entry["states"] == {} and entry["overlap"] == {}
    assert all(w["mean_abs_change"] > 0 for w in entry["weights"].values())


def test_replay_engram_and_dgm_report_their_structures():
    replay, stream, settings = _build("replay", seed=0)
    run_stream(replay, stream, settings, seed=0, progress=False)
    counts = replay.synapse_state()["buffer_per_class"].tensors["buffer"]
    assert int(counts.sum()) == len(replay.buffer) and int((counts > 0).sum()) == 6

    engram, stream, settings = _build("engram-bnn", seed=0)
    run_stream(engram, stream, settings, seed=0, progress=False)
    states = engram.synapse_state()
    overlap = states["engram_overlap"].tensors["layer0"]
    assert overlap.shape == (3, 3) and torch.allclose(overlap.diagonal(), torch.ones(3))
    assert torch.equal(states["engram_units"].tensors["layer0"][2], engram.engrams[2][0])

    dgm, stream, settings = _build("dgmw", seed=0)
    run_stream(dgm, stream, settings, seed=0, progress=False)
    states = dgm.synapse_state()
    for (name, reserved), free in zip(states["reserved"].tensors.items(), dgm.mask_back,
                                      strict=True):
        assert torch.equal(reserved, 1 - free)
        assert float(states["free_capacity"].tensors[name]) == pytest.approx(float(free.mean()))


def test_artsy_decisions_are_its_own_gates_on_each_seen_tasks_test_set():
    method, stream, settings = _build("artsy", seed=0)
    _, state = run_stream(method, stream, settings, seed=0, progress=False, evaluators=_atlas())
    last = state.evaluations["synapse-atlas"][-1]["states"]
    decided = last["synapse_functional"]["layers"]["synapses"]
    assert decided["shape"] == [3, 3]
    with torch.no_grad():
        rows = [method.gates(method.pretrained_features(t.x_test))[2].float().mean(0)
                for t in stream.tasks]
    assert decided["values"] == pytest.approx(torch.stack(rows).reshape(-1).tolist())
    thresholds = last["synapse_threshold"]["layers"]["synapses"]["values"]
    assert thresholds == pytest.approx([float(s.threshold) for s in method.synapses])
    assert state.evaluations["synapse-atlas"][-1]["weights"] == {}  # frozen backbone


# --- the evaluator -------------------------------------------------------------------------
def test_histogram_uses_fixed_edges_and_counts_everything():
    values = torch.tensor([-1.0, 0.0, 0.05, 0.5, 1.0, 2.0, float("nan")])
    h = histogram(values, tuple(i / 10 for i in range(11)))
    assert h["below"] == 1 and h["above"] == 1 and h["nan"] == 1
    assert sum(h["counts"]) == 4 and h["counts"][0] == 2 and h["counts"][-1] == 1
    mask = top_mask(torch.tensor([[3.0, 1.0], [2.0, 0.0]]), 0.5, "low")
    assert mask.tolist() == [[False, True], [False, True]]


@pytest.mark.parametrize("method,optimizer", [("mbnn", None), ("finetune", CLASSP)])
def test_the_atlas_changes_no_training(method, optimizer):
    def build():
        if optimizer is None:
            m, s, settings = _build(method, seed=0)
            return m, s, settings
        m, s = _with_optimizer(method, optimizer)
        return m, s, SETTINGS

    m, s, settings = build()
    _, plain = run_stream(m, s, settings, seed=0, progress=False)
    m, s, settings = build()
    _, atlas = run_stream(m, s, settings, seed=0, progress=False, evaluators=_atlas())
    assert atlas.accuracy_matrix == plain.accuracy_matrix
    assert atlas.task_mean_loss == plain.task_mean_loss


@pytest.mark.parametrize("name", ["ewc", "mbnn", "classp", "dgmw"])
def test_summaries_survive_a_checkpoint_and_resume(tmp_path, name):
    def build(seed):
        if name == "classp":
            m, s = _with_optimizer("finetune", {**CLASSP, "reset": "never"}, seed=seed)
            return m, s, SETTINGS
        return _build(name, seed=seed)

    method, stream, settings = build(3)
    _, full = run_stream(method, stream, settings, seed=3, progress=False, evaluators=_atlas())
    ckpt = tmp_path / "ckpt.pt"
    method, stream, settings = build(3)
    with pytest.raises(_Stop):
        run_stream(method, stream, settings, seed=3, checkpoint=ckpt, evaluators=_atlas(),
                   on_task_end=_stop_after_first, progress=False)
    method, stream, settings = build(99)
    _, resumed = run_stream(method, stream, settings, seed=3, checkpoint=ckpt, resume=True,
                            progress=False, evaluators=_atlas())
    assert resumed.accuracy_matrix == full.accuracy_matrix
    assert resumed.evaluations["synapse-atlas"] == full.evaluations["synapse-atlas"]
    assert json.loads(json.dumps(full.evaluations)) == full.evaluations  # JSON-ready


def test_unknown_evaluator_names_and_settings_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        build_evaluators(["synapse-atlass"], 1000)
    assert "synapse-atlas" in str(err.value) and "task-identity" in str(err.value)
    with pytest.raises(ConfigError, match="top_fraction"):
        build_evaluators([{"name": "synapse-atlas", "top_fraction": 2}], 1000)
    with pytest.raises(UnknownNameError, match="full_tensors"):
        build_evaluators([{"name": "synapse-atlas", "full_tensor": True}], 1000)


# --- records, files and the command --------------------------------------------------------
def _tiny_run(out, method, extra=()):
    from neuroplastic.cli import main

    args = ["run", "--benchmark", "split-digits", "--scenario", "class", "--method", method,
            "--epochs", "1", "--out", str(out), "-q", "threads=1", *extra]
    assert main(args) == 0


def test_full_tensors_write_one_npz_per_task_beside_the_record(tmp_path):
    _tiny_run(tmp_path, "si", ["evaluators=[{name: synapse-atlas, full_tensors: true}]"])
    (record,) = tmp_path.glob("*.json")
    data = json.loads(record.read_text())
    entries = data["evaluations"]["synapse-atlas"]
    files = tmp_path / "evaluations" / record.stem
    assert [e["file"] for e in entries] == [f"atlas_task_{k:02d}.npz" for k in range(5)]
    with np.load(files / entries[-1]["file"]) as arrays:
        keys = set(arrays.files)
        layer = next(iter(entries[-1]["states"]["omega"]["layers"]))
        summary = entries[-1]["states"]["omega"]["layers"][layer]
        assert f"omega/{layer}" in keys and f"weight_change/{layer}" in keys
        assert float(arrays[f"omega/{layer}"].mean()) == pytest.approx(summary["mean"])


def test_atlas_command_draws_one_run_and_a_comparison(tmp_path, capsys):
    from neuroplastic.cli import main

    _tiny_run(tmp_path / "runs", "ewc,finetune", ["evaluators=[synapse-atlas]"])
    one = sorted((tmp_path / "runs").glob("*ewc*.json"))[0]
    assert main(["atlas", str(one), "--out", str(tmp_path / "one")]) == 0
    page = (tmp_path / "one.md").read_text()
    assert "fisher" in page and "ewc" in page
    assert main(["atlas", str(tmp_path / "runs"), "--out", str(tmp_path / "both")]) == 0
    page = (tmp_path / "both.md").read_text()
    assert "finetune" in page and "ewc" in page
    assert (tmp_path / "both.html").read_text().count("data:image/png;base64") >= 2
    assert list((tmp_path / "both_files").glob("*.png"))


ATLAS_RECORDS = sorted(
    (Path(__file__).parents[1] / "docs" / "atlas-records").glob("*/"), key=lambda p: p.name
)


@pytest.mark.parametrize("folder", ATLAS_RECORDS, ids=[p.name for p in ATLAS_RECORDS])
def test_atlas_command_draws_every_committed_atlas_folder(folder, tmp_path):
    """The records behind the docs' atlas figures still draw (two runs of each folder side by
    side, to keep the suite short): each run gets its rows."""
    from neuroplastic.cli import main

    files = sorted(folder.glob("*.json"))
    assert files and all("synapse-atlas" in json.loads(f.read_text())["evaluations"]
                         for f in files)
    chosen = files[:2]
    assert main(["atlas", *map(str, chosen), "--out", str(tmp_path / "page")]) == 0
    page = (tmp_path / "page.md").read_text()
    runs = sum(line.startswith("| ") and " s" in line.split("|")[1] for line in page.splitlines())
    assert runs == len(chosen)
    assert list((tmp_path / "page_files").glob("*side-by-side.png"))


def test_atlas_of_records_without_atlas_data_says_which_evaluator_to_add(tmp_path, capsys):
    from neuroplastic.cli import main

    _tiny_run(tmp_path, "finetune")
    assert main(["atlas", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "synapse-atlas" in err and "evaluators=[synapse-atlas]" in err
