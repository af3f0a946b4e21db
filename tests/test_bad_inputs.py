"""Bad inputs, as a hostile new user would give them, through the command line (issue 22).

Every case of the table runs ``neuroplastic.cli.main`` in-process and asserts: a non-zero exit,
one ``error:`` line naming the offending key, file or value, no traceback, and an output folder
that holds exactly what it held before (nothing overwritten, nothing half-written). Damaged
records and runs that learn nothing are not errors: they are reported by name, never count as
done, and nothing is deleted. The config layer is also fuzzed with hypothesis: random key paths
and values give a ``NeuroplasticError`` or a resolved config, never another exception.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuroplastic import config as config_mod
from neuroplastic import outputs
from neuroplastic import record as record_mod
from neuroplastic.cli import main
from neuroplastic.errors import NeuroplasticError
from neuroplastic.experiment import resolve
from neuroplastic.registry import OPTIMIZERS
from neuroplastic.scenarios.checks import ALLOW_MISSING_TEST_CLASSES

#: a quick run: arguments shared by every case (training is never reached in the error cases)
TINY = ["--method", "finetune", "train.epochs=1", "-q"]
#: a quick run that does train (a small model on the small .npz data set)
SMALL = [*TINY, "model.hidden=[8]"]


# --------------------------------------------------------------------------------------------
# data files, good and bad (made once per module)
# --------------------------------------------------------------------------------------------


def _arrays(rng, **changes):
    arrays = {
        "x_train": rng.normal(size=(80, 6)).astype(np.float32),
        "y_train": np.repeat(np.arange(4), 20),
        "x_test": rng.normal(size=(40, 6)).astype(np.float32),
        "y_test": np.repeat(np.arange(4), 10),
    }
    arrays.update(changes)
    return arrays


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(d / "good.npz", **_arrays(rng))
    x = rng.normal(size=(80, 6)).astype(np.float32)
    x[3, 2] = np.nan
    np.savez(d / "nan.npz", **_arrays(rng, x_train=x))
    x = rng.normal(size=(40, 6)).astype(np.float32)
    x[7, 0] = np.inf
    np.savez(d / "inf.npz", **_arrays(rng, x_test=x))
    np.savez(d / "empty-test.npz", **_arrays(rng, x_test=np.zeros((0, 6), np.float32),
                                              y_test=np.zeros(0, np.int64)))
    y = np.repeat(np.arange(4), 10)
    y[-3:] = 4
    np.savez(d / "only-test.npz", **_arrays(rng, y_test=y))
    np.savez(d / "wide.npz", **_arrays(rng, x_test=rng.normal(size=(40, 5)).astype(np.float32)))
    y = np.repeat(np.arange(4), 10)
    y[y == 3] = 2
    np.savez(d / "no-test-class.npz", **_arrays(rng, y_test=y))
    (d / "empty.npz").write_bytes(b"")
    (d / "garbage.npz").write_bytes(b"not an archive " * 40)
    objects = np.array([[1.0], [2.0]], dtype=object)
    np.savez(d / "object.npz", x_train=objects, y_train=np.array([0, 1]), x_test=objects,
             y_test=np.array([0, 1]))
    np.savez(d / "lacking.npz", x_train=rng.normal(size=(4, 2)))
    np.save(d / "single.npy", rng.normal(size=(4, 2)))
    os.replace(d / "single.npy", d / "single.npz")
    np.savez(d / "flat.npz", **_arrays(rng, x_train=rng.normal(size=80)))
    np.savez(d / "strings.npz", **_arrays(rng, x_train=np.array([["a"] * 6] * 80)))
    (d / "empty-texts.csv").write_text("text,label\n" + ",0\n  ,1\n...,0\n,1\n" * 10)
    (d / "list-rows.jsonl").write_text('{"text": "good film", "label": 1}\n[1, 2]\n')
    (d / "folder.yaml").mkdir()
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81binary")
    (d / "dup.yaml").write_text("method: ewc\ntrain: {epochs: 1}\nmethod: si\n")
    (d / "dup-nested.yaml").write_text("optimizer:\n  name: sgd\n  lr: 0.1\n  lr: 0.2\n")
    (d / "bad.yaml").write_text("method: [unclosed\n")
    (d / "list.yaml").write_text("- method: ewc\n")
    (d / "sweep-dup.yaml").write_text("name: s\nseeds: [0]\nseeds: [1]\n")
    (d / "a-file").write_text("not a folder")
    return d


# --------------------------------------------------------------------------------------------
# the table: (class, case id, argv with {data} and {out}, what the error line must name)
# --------------------------------------------------------------------------------------------

CASES = [
    # config values that used to give a traceback or be accepted silently
    ("config", "threads-negative", ["run", *TINY, "threads=-3"], ["threads", "-3"]),
    ("config", "threads-zero", ["run", *TINY, "threads=0"], ["threads", "0"]),
    ("config", "device-tpu", ["run", *TINY, "--device", "tpu"], ["tpu", "cpu, cuda"]),
    ("config", "device-garbage", ["run", *TINY, "device=cuda:x"], ["cuda:x"]),
    ("config", "config-is-folder", ["run", *TINY, "--config", "{data}/folder.yaml"],
     ["folder.yaml", "folder"]),
    ("config", "config-missing", ["run", *TINY, "--config", "{data}/nope.yaml"],
     ["nope.yaml", "does not exist"]),
    ("config", "config-binary", ["run", *TINY, "--config", "{data}/binary.yaml"],
     ["binary.yaml", "UTF-8"]),
    ("config", "config-invalid-yaml", ["run", *TINY, "--config", "{data}/bad.yaml"],
     ["bad.yaml", "not valid YAML"]),
    ("config", "config-not-mapping", ["run", *TINY, "--config", "{data}/list.yaml"],
     ["list.yaml", "mapping"]),
    ("config", "yaml-duplicate-key", ["run", "-q", "--config", "{data}/dup.yaml"],
     ["dup.yaml", "'method'", "twice", "lines 1 and 3"]),
    ("config", "yaml-duplicate-nested-key", ["run", "-q", "--config", "{data}/dup-nested.yaml"],
     ["dup-nested.yaml", "'lr'", "twice"]),
    ("config", "override-duplicate-key", ["run", *TINY, "optimizer={name: sgd, name: adam}"],
     ["'name'", "twice"]),
    ("config", "method-empty-override", ["run", "-q", "method="], ["method is empty"]),
    ("config", "method-name-empty", ["run", "-q", "method.name="], ["method is empty"]),
    ("config", "benchmark-empty", ["run", *TINY, "benchmark="], ["benchmark is empty"]),
    ("config", "method-flag-empty", ["run", "-q", "--method", ""], ["--method", "empty"]),
    ("config", "method-flag-trailing-comma", ["run", "-q", "--method", "ewc,"],
     ["--method", "empty"]),
    ("config", "method-flag-repeated", ["run", "-q", "--method", "ewc,ewc"],
     ["--method", "ewc", "more than once"]),
    ("config", "seed-empty-item", ["run", *TINY, "--seed", "0,,1"], ["--seed", "0,,1"]),
    ("config", "seed-repeated", ["run", *TINY, "--seed", "0,1,0"],
     ["--seed", "0", "more than once"]),
    ("config", "seed-text", ["run", *TINY, "--seed", "abc"], ["seed", "abc"]),
    ("config", "seed-negative", ["run", *TINY, "seed=-1"], ["seed", "-1"]),
    ("config", "lr-nan", ["run", *TINY, "optimizer.lr=.nan"], ["optimizer (adam).lr", "nan"]),
    ("config", "lr-text", ["run", *TINY, "optimizer.lr=fast"], ["optimizer (adam).lr", "fast"]),
    ("config", "betas-short", ["run", *TINY, "optimizer.betas=[0.9]"], ["betas", "2 values"]),
    ("config", "block-not-mapping", ["run", *TINY, "train=5"], ["train", "mapping"]),
    ("config", "scalar-as-block", ["run", *TINY, "scenario.x=1"], ["scenario"]),
    ("config", "method-name-list", ["run", *TINY, "method.name=[a, b]"], ["method", "a"]),
    ("config", "empty-key-part", ["run", *TINY, "train..epochs=1"], ["train..epochs"]),
    ("config", "unknown-key", ["run", *TINY, "train.epoch=1"], ["epoch", "epochs"]),
    ("config", "momentum-negative", ["run", *TINY, "--optimizer", "sgd", "optimizer.momentum=-1"],
     ["optimizer (sgd)", "momentum", "-1"]),
    ("config", "weight-decay-negative", ["run", *TINY, "optimizer.weight_decay=-1"],
     ["optimizer (adam)", "weight_decay", "-1"]),
    ("config", "eps-negative", ["run", *TINY, "optimizer.eps=-1"], ["optimizer (adam)", "-1"]),
    ("config", "beta-above-one", ["run", *TINY, "optimizer.betas=[2, 0.5]"], ["beta", "2.0"]),
    ("config", "hidden-negative", ["run", *TINY, "model.hidden=[-5]"], ["model.hidden", "-5"]),
    ("config", "epochs-text", ["run", *TINY, "--epochs", "abc"], ["--epochs", "abc"]),
    ("config", "epochs-zero", ["run", "-q", "--method", "finetune", "--epochs", "0"],
     ["train.epochs"]),
    ("config", "batch-size-zero", ["run", *TINY, "train.batch_size=0"], ["batch_size"]),
    ("config", "reset-unknown", ["run", *TINY, "optimizer.reset=sometimes"],
     ["optimizer.reset", "sometimes", "per_task"]),
    ("config", "scenario-unknown", ["run", *TINY, "--scenario", "diagonal"],
     ["diagonal", "class"]),
    ("config", "benchmark-unknown", ["run", *TINY, "--benchmark", "mnits"],
     ["mnits", "split-mnist"]),
    ("config", "sweep-seeds-empty-item", ["sweep", "{sweep}", "--seeds", "0,,1", "-q"],
     ["--seeds", "0,,1"]),
    ("config", "sweep-seeds-repeated", ["sweep", "{sweep}", "--seeds", "1,0,1", "-q"],
     ["--seeds", "more than once"]),
    # bad data: each names the data set (file), the task where it applies, and the fix
    ("data", "nan-features", ["run", *TINY, "--benchmark", "{data}/nan.npz"],
     ["nan.npz", "task 1", "NaN", "x_train"]),
    ("data", "inf-features", ["run", *TINY, "--benchmark", "{data}/inf.npz"],
     ["inf.npz", "infinite", "x_test"]),
    ("data", "empty-test-split", ["run", *TINY, "--benchmark", "{data}/empty-test.npz"],
     ["empty-test.npz", "test split is empty"]),
    ("data", "classes-only-in-test", ["run", *TINY, "--benchmark", "{data}/only-test.npz"],
     ["only-test.npz", "[4]", "only in the test set"]),
    ("data", "class-absent-from-test", ["run", *TINY, "--benchmark",
                                        "{data}/no-test-class.npz"],
     ["no-test-class.npz", "task 2", "class 3", ALLOW_MISSING_TEST_CLASSES]),
    ("data", "x-test-wrong-width", ["run", *TINY, "--benchmark", "{data}/wide.npz"],
     ["wide.npz", "(6,)", "(5,)"]),
    ("data", "npz-empty-file", ["run", *TINY, "--benchmark", "{data}/empty.npz"],
     ["empty.npz", "not a readable .npz"]),
    ("data", "npz-garbage", ["run", *TINY, "--benchmark", "{data}/garbage.npz"],
     ["garbage.npz", "not an .npz file"]),
    ("data", "npz-object-arrays", ["run", *TINY, "--benchmark", "{data}/object.npz"],
     ["object.npz", "object arrays"]),
    ("data", "npz-lacking-arrays", ["run", *TINY, "--benchmark", "{data}/lacking.npz"],
     ["lacking.npz", "y_train, x_test, y_test"]),
    ("data", "npz-is-npy", ["run", *TINY, "--benchmark", "{data}/single.npz"],
     ["single.npz", "single array"]),
    ("data", "npz-1d-inputs", ["run", *TINY, "--benchmark", "{data}/flat.npz"],
     ["flat.npz", "x_train", "(80,)"]),
    ("data", "npz-string-inputs", ["run", *TINY, "--benchmark", "{data}/strings.npz"],
     ["strings.npz", "numeric"]),
    ("data", "text-all-empty", ["run", *TINY, "--benchmark", "{data}/empty-texts.csv"],
     ["empty-texts.csv", "'text'", "holds a word"]),
    ("data", "jsonl-row-not-object", ["run", *TINY, "--benchmark", "{data}/list-rows.jsonl"],
     ["list-rows.jsonl", "row 2"]),
    ("data", "data-path-missing", ["run", *TINY, "--benchmark", "{data}/nope.npz"],
     ["nope.npz", "does not exist"]),
    # output locations: one error before any training
    ("output", "out-is-a-file", ["run", *TINY, "--benchmark", "{data}/good.npz",
                                 "--out", "{data}/a-file"], ["a-file", "is a file"]),
    ("output", "out-under-a-file", ["run", *TINY, "--benchmark", "{data}/good.npz",
                                    "--out", "{data}/a-file/runs"], ["a-file", "is a file"]),
    ("output", "checkpoints-is-a-file", ["run", *TINY, "--benchmark", "{data}/good.npz"],
     ["checkpoints", "is a file"]),
    ("output", "report-out-under-a-file", ["report", "{out}", "--out", "{data}/a-file/report"],
     ["report --out", "a-file"]),
    ("output", "report-folder-missing", ["report", "{data}/no-such-folder"],
     ["no-such-folder", "not a folder"]),
    ("output", "sweep-out-is-a-file", ["sweep", "{sweep}", "--out", "{data}/a-file", "-q"],
     ["sweep --out", "a-file"]),
    ("output", "sweep-file-is-folder", ["sweep", "{data}/folder.yaml"], ["folder.yaml"]),
    ("output", "sweep-duplicate-key", ["sweep", "{data}/sweep-dup.yaml"],
     ["sweep-dup.yaml", "'seeds'", "twice"]),
]
CASES += [
    ("config", f"lr-negative-{name}", ["run", *TINY, f"--optimizer={name}", "optimizer.lr=-1"],
     ["lr", "-1"])
    for name in OPTIMIZERS.names()
]


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes, and every folder (as 'dir')."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _sweep_file(folder: Path, data: Path) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(json.dumps({
        "name": "bad-inputs",
        "base": {"benchmark": {"name": str(data / "good.npz")}, "model": {"hidden": [8]},
                 "train": {"epochs": 1}, "threads": 1},
        "grid": {"method": ["finetune"]},
        "seeds": [0],
    }))
    return path


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "case, argv, names", [c[1:] for c in CASES], ids=[f"{c[0]}:{c[1]}" for c in CASES]
)
def test_bad_input_is_one_clear_line(case, argv, names, data, tmp_path, capsys):
    out = tmp_path / "out"
    # an output folder that already holds a finished record: it must come out untouched
    out.mkdir()
    (out / "earlier-run.json").write_text(json.dumps({"kept": True}))
    if case == "checkpoints-is-a-file":
        (out / "checkpoints").write_text("in the way")
    fill = {"data": str(data), "out": str(out), "sweep": str(_sweep_file(tmp_path, data))}
    for key, value in fill.items():
        argv = [a.replace(f"{{{key}}}", value) for a in argv]
    if "--out" not in argv and argv[0] in ("run", "sweep"):
        argv += ["--out", str(out)]
    before = _tree(out)
    code, err = _run(argv, capsys)
    assert code not in (0, None), err
    assert "Traceback" not in err
    # argparse's own errors read "neuroplastic run: error: ..."
    errors = [line for line in err.splitlines() if re.match(r"(neuroplastic[\w ]*: )?error:", line)]
    assert len(errors) == 1, err
    for name in names:
        assert name in errors[0], f"{name!r} not in {errors[0]!r}"
    assert _tree(out) == before


def test_the_table_covers_every_class_of_the_issue():
    kinds = {c[0] for c in CASES}
    assert kinds == {"config", "data", "output"}
    assert len(CASES) >= 60


# --------------------------------------------------------------------------------------------
# output locations that need the file system's help: read-only, full
# --------------------------------------------------------------------------------------------


def test_read_only_out_is_refused_before_any_data_is_loaded(data, tmp_path, capsys, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root ignores permission bits, so a read-only disk is simulated where os.access is asked
    monkeypatch.setattr(
        outputs.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode)
    )
    code, err = _run(["run", *TINY, "--benchmark", str(data / "good.npz"),
                      "--out", str(locked / "runs")], capsys)
    assert code == 2 and "Traceback" not in err
    assert "not writable" in err and str(locked) in err
    assert list(locked.iterdir()) == []


def test_read_only_folder_is_refused_by_a_real_write(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root: permission bits do not stop it
            pytest.skip("running as root: permission bits cannot make a folder read-only")
        with pytest.raises(NeuroplasticError, match="locked"):
            outputs.check_dir(locked / "runs", "--out")
    finally:
        locked.chmod(0o755)


def test_full_disk_is_refused_before_training(data, tmp_path, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 100, 100))
    code, err = _run(["run", *TINY, "--benchmark", str(data / "good.npz"),
                      "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "MiB free" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.json"))


# --------------------------------------------------------------------------------------------
# damaged records: reported by name, not done, moved aside, never deleted
# --------------------------------------------------------------------------------------------


def _one_record(folder: Path) -> Path:
    (path,) = sorted(folder.glob("*.json"))
    return path


def test_truncated_record_is_moved_aside_and_the_run_done_again(data, tmp_path, capsys):
    argv = ["run", *SMALL, "--benchmark", str(data / "good.npz"), "--out", str(tmp_path)]
    assert main(argv) == 0
    path = _one_record(tmp_path)
    good = json.loads(path.read_text())
    damaged = path.read_bytes()[:120]
    path.write_bytes(damaged)
    capsys.readouterr()
    code, err = _run([*argv, "--resume"], capsys)
    assert code == 0, err
    assert path.name in err and "not valid JSON" in err and "Traceback" not in err
    assert (tmp_path / f"{path.name}.damaged").read_bytes() == damaged  # kept, not deleted
    assert json.loads(path.read_text())["accuracy_matrix"] == good["accuracy_matrix"]


@pytest.mark.parametrize("field", ["config", "accuracy_matrix", "metrics", "seed"])
def test_record_lacking_a_field_counts_as_not_done(field, tmp_path, caplog):
    rec = {"config": {"method": {"name": "x"}, "benchmark": {"name": "y"}}, "seed": 0,
           "accuracy_matrix": [[0.5]], "metrics": {}}
    assert record_mod.problem(rec) is None
    del rec[field]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(rec))
    assert record_mod.read_valid(path, move_damaged=True) is None
    assert "r.json" in caplog.text and field in caplog.text
    assert not path.exists() and (tmp_path / "r.json.damaged").exists()


def test_readers_skip_other_json_quietly_and_name_damaged_records(tmp_path, caplog):
    good = {"config": {"method": {"name": "x"}, "benchmark": {"name": "y"}}, "seed": 0,
            "accuracy_matrix": [[0.5]], "metrics": {}}
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "settings.json").write_text('{"colour": "blue"}')  # not a record
    (tmp_path / "r.failed.json").write_text('{"error": "x"}')  # a failure file
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "half.json").write_text('{"config": {"method"')
    (tmp_path / "sub" / "lacking.json").write_text('{"config": {}, "record_version": 1}')
    records = record_mod.load_all(tmp_path)
    assert [r["seed"] for r in records] == [0]
    assert "half.json" in caplog.text and "lacking.json" in caplog.text
    assert "settings.json" not in caplog.text and "failed" not in caplog.text
    assert (tmp_path / "sub" / "half.json").exists()  # readers never move files


def test_report_names_a_damaged_record_and_keeps_it(data, tmp_path, capsys):
    for seed in ("0", "1"):
        assert main(["run", *SMALL, "--benchmark", str(data / "good.npz"), "--seed", seed,
                     "--out", str(tmp_path / "runs")]) == 0
    first = sorted((tmp_path / "runs").glob("*.json"))[0]
    first.write_text('{"config": {')
    capsys.readouterr()
    code, err = _run(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    assert first.name in err and "skipped" in err
    assert first.read_text() == '{"config": {'  # a reader does not move it


def test_sweep_reruns_a_damaged_record_instead_of_counting_it_done(data, tmp_path, caplog):
    from neuroplastic.experiments.sweep import run_sweep

    sweep = _sweep_file(tmp_path, data)
    out = tmp_path / "out"
    first = run_sweep(sweep, out=out, workers=1, progress=False)
    assert len(first.done) == 1 and not first.failed
    path = _one_record(out)
    path.write_text(path.read_text()[:50])
    again = run_sweep(sweep, out=out, workers=1, progress=False)
    assert again.done == first.done and not again.skipped  # run again, not "already done"
    assert path.name in caplog.text
    assert (out / f"{path.name}.damaged").exists()
    assert record_mod.read(path)["name"] == path.stem


# --------------------------------------------------------------------------------------------
# runs that learn nothing or diverge: flagged in the record and on the console; a sweep
# counts them as failed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lr, message", [("1e-12", "no trainable weight changed"), ("1e30", "the loss became nan")]
)
def test_run_that_learns_nothing_or_diverges_is_flagged(lr, message, data, tmp_path, capsys):
    code, err = _run(["run", *SMALL, "--benchmark", str(data / "good.npz"), "--optimizer", "sgd",
                      f"optimizer.lr={lr}", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "warning: task" in err and message in err
    rec = record_mod.read(_one_record(tmp_path))
    assert any(message in w for w in rec["warnings"])


def test_a_one_class_task_in_class_il_is_flagged_as_nothing_to_learn(data, tmp_path, capsys):
    # one class per task, class-incremental: task 1's only active output is its own class, the
    # cross-entropy is 0 at every step, and the flag says so instead of blaming the optimizer
    code, err = _run(["run", *SMALL, "--benchmark", str(data / "good.npz"),
                      "benchmark.classes_per_task=1", "--out", str(tmp_path)], capsys)
    assert code == 0
    rec = record_mod.read(_one_record(tmp_path))
    assert rec["warnings"] == [
        "task 1: no trainable weight changed; the loss was 0 at every step (a task of one class "
        "whose only active output is its own, as in class-incremental one-class tasks), so "
        "there was nothing to learn"]
    assert "optimizer's settings" not in err


def test_sweep_counts_a_flagged_run_as_failed(data, tmp_path):
    from neuroplastic.experiments.sweep import load_sweep, run_sweep

    sweep = _sweep_file(tmp_path, data)
    spec = load_sweep(sweep)
    spec.base["optimizer"] = {"name": "sgd", "lr": 1e-12}
    out = tmp_path / "out"
    result = run_sweep(spec, out=out, workers=1, progress=False)
    assert not result.done and len(result.failed) == 1
    (name, error), = result.failed.items()
    assert "no trainable weight changed" in error
    assert (out / f"{name}.json").exists()  # the record is kept
    assert "no trainable weight" in json.loads((out / f"{name}.failed.json").read_text())["error"]
    again = run_sweep(spec, out=out, workers=1, progress=False)  # not done, and not rerun
    assert not again.done and not again.skipped and name in again.failed


def test_missing_test_class_can_be_accepted_explicitly(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ALLOW_MISSING_TEST_CLASSES, "1")
    code, err = _run(["run", *SMALL, "--benchmark", str(data / "no-test-class.npz"),
                      "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert "warning:" in err and "class 3" in err
    # the opt-out is not part of the config: the run's name is that of a run without it
    rec = record_mod.read(_one_record(tmp_path))
    assert ALLOW_MISSING_TEST_CLASSES not in json.dumps(rec["config"])


# --------------------------------------------------------------------------------------------
# tracebacks: only for real bugs, and with --debug
# --------------------------------------------------------------------------------------------


def test_debug_shows_the_traceback_of_a_user_error(capsys):
    code, err = _run(["--debug", "run", "-q", "threads=-3"], capsys)
    assert code == 2 and "Traceback" in err and "error: threads" in err
    code, err = _run(["run", "-q", "threads=-3", "--debug"], capsys)  # after the subcommand too
    assert code == 2 and "Traceback" in err


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    import neuroplastic.cli.show as show

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(show, "cmd_list", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["list"])


# --------------------------------------------------------------------------------------------
# the config layer under random input (hypothesis)
# --------------------------------------------------------------------------------------------

KEYS = [
    "benchmark", "benchmark.name", "benchmark.n_tasks", "benchmark.classes_per_task",
    "scenario", "head", "model", "model.name", "model.hidden", "method", "method.name",
    "method.lambda", "method.buffer_size", "optimizer", "optimizer.name", "optimizer.lr",
    "optimizer.reset", "optimizer.betas", "train", "train.epochs", "train.iterations",
    "train.batch_size", "train.task_epochs", "train.shuffle", "transforms", "seed", "device",
    "threads",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["ewc", "si", "adam", "sgd", "mlp", "class", "task", "cuda", "tpu", "-1",
                     "[1, 2]", "{name: ewc}", "~", ".nan", "1e400", "a: b: c", "[", "{"]),
)


def _containers(inner):
    keys = st.sampled_from(["name", "lr", "x", "tasks"])
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3))


VALUES = st.recursive(SCALARS, _containers, max_leaves=6)
KEY_PATHS = st.one_of(
    st.sampled_from(KEYS),
    st.lists(st.text(alphabet="abcdemnorst_.", min_size=0, max_size=6), min_size=1,
             max_size=3).map(".".join),
)


def _resolve_or_user_error(overrides=None, base=None) -> None:
    try:
        resolve(config_mod.load(None, overrides, base=base))
    except NeuroplasticError:
        pass  # a clear message for the user: what the config layer is for


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(KEY_PATHS, VALUES | st.text(max_size=15)), min_size=1, max_size=3))
def test_random_overrides_give_a_config_or_a_user_error(pairs):
    texts = []
    for key, value in pairs:
        raw = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
        texts.append(f"{key}={raw}")
    _resolve_or_user_error(overrides=texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(config_mod.DEFAULTS) + ["x"]), VALUES, max_size=4))
def test_random_config_mappings_give_a_config_or_a_user_error(mapping):
    _resolve_or_user_error(base=mapping)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_random_yaml_text_gives_a_mapping_or_a_user_error(text):
    try:
        config_mod.parse_yaml(text, "fuzzed text")
    except NeuroplasticError:
        pass


def test_benchmark_under_an_unknown_users_home_is_a_user_error():
    """``~someone/...`` for a user this machine lacks: pathlib raises RuntimeError; the user
    gets the list of benchmarks instead (found by the random-mapping test above)."""
    from neuroplastic.errors import UnknownNameError
    from neuroplastic.scenarios.benchmarks import resolve_benchmark

    with pytest.raises(UnknownNameError, match="split-mnist"):
        resolve_benchmark("~no-such-user-0/data.npz")
