import json

import pytest

from neuroplastic import record
from neuroplastic.cli import main

FAST = ["train.epochs=2", "model.hidden=[32]", "threads=1"]


def test_list_shows_every_section(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for section in ("methods:", "benchmarks:", "scenarios:", "models:", "optimizers:",
                    "transforms:", "evaluators:"):
        assert section in out
    assert "finetune" in out and "split-mnist" in out and "class-incremental" in out
    assert "synapse-atlas" in out and "best-validation" in out


def test_show_describes_an_evaluator_and_its_settings(capsys):
    assert main(["show", "evaluator", "synapse-atlas"]) == 0
    out = capsys.readouterr().out
    assert "evaluators: [{name: synapse-atlas" in out and "full_tensors = False" in out
    assert main(["show", "evaluator", "best-validation"]) == 0
    assert "no options" in capsys.readouterr().out


def test_run_writes_a_complete_record(tmp_path, capsys):
    code = main(
        [
            "run",
            "--method",
            "finetune,joint",
            "--benchmark",
            "split-digits",
            "--scenario",
            "class",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
            "-q",
            *FAST,
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "finetune" in out and "joint" in out and "avg acc" in out
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 2
    rec = json.loads(files[0].read_text())
    for key in ("config", "accuracy_matrix", "metrics", "versions", "seed"):
        assert key in rec
    for key in (
        "average_accuracy",
        "forgetting",
        "bwt",
        "fwt",
        "train_seconds",
        "eval_seconds",
        "peak_rss_bytes",
        "state_bytes",
        "model_bytes",
    ):
        assert key in rec["metrics"]
    assert rec["seed"] == 1 and rec["config"]["seed"] == 1
    assert rec["config"]["model"] == {"name": "mlp", "hidden": [32], "dropout": 0.0}
    R = rec["accuracy_matrix"]
    assert len(R) == 5 and all(0 <= a <= 1 for row in R for a in row)
    assert files[0].stem.endswith(record.config_hash(rec["config"]))
    assert not list((tmp_path / "checkpoints").glob("*.pt"))  # removed once the run finished


def test_config_file_with_overrides(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "benchmark: split-digits\nscenario: task\nmethod: finetune\n"
        "train: {epochs: 1, batch_size: 64}\n"
    )
    assert (
        main(
            [
                "run",
                "--config",
                str(cfg),
                "--out",
                str(tmp_path),
                "-q",
                "train.batch_size=16",
                "threads=1",
            ]
        )
        == 0
    )
    rec = record.load_all(tmp_path)[0]
    assert rec["config"]["scenario"] == "task" and rec["config"]["head"] == "multi"
    assert rec["config"]["train"]["batch_size"] == 16
    assert rec["stream"]["task_id_at_test"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--method", "ewk"], "unknown method 'ewk'; valid choices"),
        (["run", "--benchmark", "split-mnits"], "valid choices"),
        (["run", "--scenario", "classes"], "unknown scenario"),
        (["run", "--method", "finetune", "train.epoch=3"],
         "valid choices: batch_size, compile, epochs"),
        (["run", "--method", "finetune", "--config", "missing.yaml"], "does not exist"),
        (["run", "--method", "finetune", "--epochs", "0"], "at least 1"),
        (["run", "--method", "finetune", "--device", "cuda:3"], "no CUDA"),
    ],
)
def test_user_errors_are_one_line_not_tracebacks(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resume_of_a_finished_run_reuses_its_record(tmp_path):
    args = [
        "run",
        "--method",
        "finetune",
        "--benchmark",
        "split-digits",
        "--out",
        str(tmp_path),
        "-q",
        *FAST,
    ]
    assert main(args) == 0
    path = next(tmp_path.glob("*.json"))
    before = path.stat().st_mtime_ns
    assert main([*args, "--resume"]) == 0
    assert path.stat().st_mtime_ns == before


def test_tensorboard_logging(tmp_path):
    tb = tmp_path / "tb"
    assert (
        main(
            [
                "run",
                "--method",
                "finetune",
                "--out",
                str(tmp_path),
                "-q",
                "--tensorboard",
                str(tb),
                *FAST,
            ]
        )
        == 0
    )
    assert list(tb.rglob("events.out.tfevents.*"))


def test_method_flag_keeps_method_overrides(tmp_path):
    assert main(["run", "--method", "ewc", "--out", str(tmp_path), "-q", "method.lambda=7",
                 *FAST]) == 0
    assert record.load_all(tmp_path)[0]["config"]["method"]["lambda_"] == 7.0
