"""The same seed gives the same accuracy matrix and run name as before issue 20's rework (one
protocol format, evaluators in the engine, checkpoints as state dicts, the package layout), for
one small run per area: records written by commit 8ee63ef (tests/data/before_issue_20.py says
how), rerun here with the code as it is."""

import json
import os
from pathlib import Path

import pytest

from data.before_issue_20 import record

BEFORE = json.loads((Path(__file__).parent / "data" / "before_issue_20.json").read_text())



@pytest.mark.parametrize("name", sorted(BEFORE))
def test_same_accuracy_matrix_as_before_the_rework(name):
    if BEFORE[name]["name"].startswith(("split-mnist", "permuted-mnist")) and not os.environ.get(
        "NEUROPLASTIC_DATA"
    ):
        pytest.skip("MNIST is not in NEUROPLASTIC_DATA")
    now = record(name)
    assert now["name"] == BEFORE[name]["name"]
    assert now["accuracy_matrix"] == BEFORE[name]["accuracy_matrix"]
