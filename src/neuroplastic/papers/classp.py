"""Ludwig (2024), CLASSP: the claims the official-scale vision protocol checks.

The abstract: CLASSP shows "superior performance in terms of accuracy and memory footprint"
compared with EWC; the paper also compares with SGD, Adam and AdaGrad. Rows are those of
``protocols/classp/classp-vision-official.yaml`` (``classp-official``: the rule of the official
``CLASSP.py``, which produced the paper's numbers; ``ewc-official``: EWC as the official
``experiment_EWC.py`` pairs it).
"""

from __future__ import annotations

from . import Claim, Rows, compare_rows, mean, metric_values


def beats_ewc_and_optimizers(rows: Rows) -> list[Claim]:
    claims = [
        compare_rows(rows, "classp-official", other, "average_accuracy",
                     f"CLASSP (official rule) ends with a higher mean accuracy over both tasks "
                     f"than {other} (Welch p < 0.05)")
        for other in ("ewc-official", "sgd", "adam", "adagrad")
        if other in rows or other == "ewc-official"
    ]
    a = metric_values(rows.get("classp-official", []), "state_bytes")
    b = metric_values(rows.get("ewc-official", []), "state_bytes")
    text = "CLASSP keeps less state than EWC (method state bytes)"
    if not a or not b:
        claims.append(Claim(text, "not run yet", None))
    else:
        claims.append(Claim(text, f"{mean(a) / 2**20:.2f} MiB vs {mean(b) / 2**20:.2f} MiB",
                            mean(a) < mean(b)))
    return claims
