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


def beats_optimizers_quick_preset(rows: Rows) -> list[Claim]:
    """The same claims on a quick preset, compared on the means over seeds only (these
    budgets carry no verdict; the table shows what each rule does at them)."""
    out = []
    others = [b for b in ("sgd", "adam", "adagrad", "ewc") if rows.get(b)]
    for row in [r for r in ("classp-paper", "classp-official") if rows.get(r)]:
        for key, word, sign in (("average_accuracy", "higher average accuracy", 1),
                                ("forgetting", "less forgetting", -1)):
            if not others:
                continue
            mine = mean(metric_values(rows[row], key))
            theirs = {b: mean(metric_values(rows[b], key)) for b in others}
            text = ", ".join(f"{b} {100 * v:.1f}" for b, v in theirs.items())
            out.append(Claim(f"{row}: {word} than {'/'.join(others)} (means)",
                             f"{100 * mine:.1f} % vs {text}",
                             all(sign * (mine - v) > 0 for v in theirs.values())))
        if rows.get("ewc"):
            mine = mean(metric_values(rows[row], "state_bytes"))
            ewc = mean(metric_values(rows["ewc"], "state_bytes"))
            out.append(Claim(f"{row}: smaller memory footprint than EWC (method state bytes)",
                             f"{mine / 2**20:.2f} MiB vs {ewc / 2**20:.2f} MiB", mine < ewc))
    return out


def beats_optimizers_full_data(rows: Rows) -> list[Claim]:
    """Every training sentence of a stream that is not the paper's (its financial_phrasebank
    is not offline here): both CLASSP rules against SGD, Adam, AdaGrad and EWC, Welch's test
    over seeds. A result here is evidence about CLASSP on this stream, not a verdict on the
    paper's own experiment."""
    return [
        compare_rows(rows, mine, other, "average_accuracy",
                     f"{mine} ends with a higher mean accuracy over the 4 domains than {other} "
                     "(Welch p < 0.05)")
        for mine in ("classp-official", "classp-paper")
        for other in ("sgd", "adam", "adagrad", "ewc")
        if mine in rows and other in rows
    ]
