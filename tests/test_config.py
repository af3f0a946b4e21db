from dataclasses import dataclass, field

import pytest

from neuroplastic import config, params
from neuroplastic.errors import ConfigError, UnknownNameError
from neuroplastic.experiment import resolve


def test_override_parses_yaml_values_and_keeps_block_name():
    cfg = config.load(None, ["method=finetune", "train.epochs=3", "model.hidden=[10, 20]"])
    assert cfg["method"] == {"name": "finetune"}
    assert cfg["train"]["epochs"] == 3
    assert cfg["model"] == {"hidden": [10, 20]}
    cfg = config.load(None, ["optimizer=sgd", "optimizer.lr=0.5"])
    assert cfg["optimizer"] == {"name": "sgd", "lr": 0.5}


def test_changing_a_block_name_drops_the_old_settings(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optimizer: {name: sgd, momentum: 0.9}\n")
    cfg = config.load(path, ["optimizer=adam"])
    assert cfg["optimizer"] == {"name": "adam"}


def test_unknown_top_level_key_lists_valid_keys():
    with pytest.raises(UnknownNameError) as err:
        config.load(None, ["trian.epochs=3"])
    assert "train" in str(err.value) and "trian" in str(err.value)


def test_unknown_method_lists_choices():
    with pytest.raises(UnknownNameError) as err:
        resolve(config.load(None, ["method=ewk"]))
    assert "finetune" in str(err.value) and "joint" in str(err.value)


def test_unknown_scenario_and_head():
    with pytest.raises(UnknownNameError, match="class"):
        resolve(config.load(None, ["scenario=clas"]))
    with pytest.raises(UnknownNameError, match="growing"):
        resolve(config.load(None, ["head=wide"]))


def test_unknown_method_parameter_lists_valid_ones():
    with pytest.raises(UnknownNameError):
        resolve(config.load(None, ["method.nonexistent=1"]))
    with pytest.raises(UnknownNameError) as err:
        resolve(config.load(None, ["optimizer=adam", "optimizer.momentum=0.9"]))
    assert "lr" in str(err.value)


def test_wrong_type_rejected_with_key_name():
    with pytest.raises(ConfigError, match="train.epochs"):
        resolve(config.load(None, ["train.epochs=many"]))


def test_impossible_training_length_rejected():
    with pytest.raises(ConfigError):
        resolve(config.load(None, ["train.epochs=0"]))


def test_missing_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(bad)


def test_resolved_config_fills_every_default():
    r = resolve(config.load(None, []))
    cfg = r.config
    assert cfg["model"]["name"] == "mlp" and cfg["model"]["hidden"] == [400, 400]
    assert cfg["optimizer"] == {
        "name": "adam",
        "reset": "never",
        "lr": 0.001,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
        "weight_decay": 0.0,
    }
    assert cfg["head"] == "growing"
    assert cfg["train"]["batch_size"] == 128


def test_bad_optimizer_reset():
    with pytest.raises(UnknownNameError, match="per_task"):
        resolve(config.load(None, ["optimizer.reset=sometimes"]))


def test_task_id_method_rejected_in_class_scenario(monkeypatch):
    from neuroplastic.methods.base import Method
    from neuroplastic.registry import METHODS

    class NeedsTaskId(Method):
        """test method that needs task ids"""

        needs_task_id_at_test = True

    METHODS.names()  # load built-ins first
    monkeypatch.setitem(
        METHODS._entries,
        "needs-id",
        METHODS._entries["finetune"].__class__("needs-id", NeedsTaskId, None, "test"),
    )
    with pytest.raises(ConfigError, match="task id"):
        resolve(config.load(None, ["method=needs-id", "scenario=class"]))
    resolve(config.load(None, ["method=needs-id", "scenario=task"]))


@dataclass
class _P:
    a: float = 1.0
    b: list[int] = field(default_factory=list)
    c: bool = False
    d: int | None = None


def test_params_coercion():
    p = params.build(_P, {"a": 2, "b": [1.0, 2], "c": "true", "d": None}, "x")
    assert p.a == 2.0 and isinstance(p.a, float)
    assert p.b == [1, 2] and p.c is True and p.d is None
    with pytest.raises(ConfigError):
        params.build(_P, {"b": ["x"]}, "x")
    with pytest.raises(ConfigError):
        params.build(_P, {"d": 1.5}, "x")


@dataclass
class _Keyword:
    lambda_: float = 1.0


def test_keyword_fields_accept_the_plain_spelling():
    assert params.build(_Keyword, {"lambda": 5}, "x").lambda_ == 5.0
    assert params.build(_Keyword, {"lambda_": 6}, "x").lambda_ == 6.0
