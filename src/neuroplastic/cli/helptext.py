"""Examples shown at the end of every subcommand's ``--help`` (argparse epilogs).

They live here, in one table, rather than in each ``cli_*.py`` so that every subcommand gets
examples in the same form and one test (tests/test_cli_help.py) can check that each of them
parses: an example that no longer parses fails the suite instead of misleading a reader.
"""

from __future__ import annotations

import argparse
import textwrap

#: command path -> example lines ("$ command  # what it does"); keys are tuples of subcommand
#: names as typed (``("dgm", "run")`` is ``neuroplastic dgm run``)
EXAMPLES: dict[tuple[str, ...], list[str]] = {
    (): [
        "neuroplastic run                          # the quickstart comparison (about 15 s)",
        "neuroplastic run --preset quickstart --method finetune,replay,joint --seed 0,1 "
        "--out runs/first",
        "neuroplastic report runs/first            # runs/first/report.{md,html,csv}",
        "neuroplastic list                         # every component; show KIND NAME for one",
        "neuroplastic COMMAND --help               # each command's options and examples",
    ],
    ("run",): [
        "neuroplastic run                                   # the quickstart comparison",
        "neuroplastic run --preset quickstart --method replay  # one row of it, exactly",
        "neuroplastic run --method ewc --benchmark split-mnist --scenario task --epochs 2",
        "neuroplastic run --preset quickstart --method finetune,joint --seed 0,1,2",
        "neuroplastic run --config my.yaml method.lambda_=1e4 train.epochs=3",
        "neuroplastic run --benchmark ./data.csv --method finetune --epochs 2 threads=1",
        "neuroplastic run --method replay --optimizer sgd optimizer.lr=0.1",
        "neuroplastic run ... --resume                     # continue an interrupted run",
    ],
    ("list",): [
        "neuroplastic list                  # every method, benchmark, model, optimizer, ...",
        "neuroplastic show benchmark text-table   # one component's options and defaults",
    ],
    ("show",): [
        "neuroplastic show benchmark text-table   # the CSV/TSV/JSONL loader's options",
        "neuroplastic show optimizer classp",
        "neuroplastic show method ewc",
        "neuroplastic show preset quickstart      # the settings of a bare `neuroplastic run`",
    ],
    ("sweep",): [
        "neuroplastic sweep src/neuroplastic/protocols/sweeps/landed-methods.yaml --dry-run",
        "neuroplastic sweep FILE.yaml --workers 2 --out runs/mysweep",
        "neuroplastic sweep FILE.yaml --only method=ewc,si --seeds 0,1",
        "neuroplastic sweep FILE.yaml --backend ray --address auto",
    ],
    ("tune",): [
        "neuroplastic tune FILE.yaml --num-samples 20 --workers 2",
    ],
    ("report",): [
        "neuroplastic report runs/mysweep                 # runs/mysweep/report.{md,html,csv}",
        "neuroplastic report docs/sweep-report/records --out docs/sweep-report/report",
    ],
    ("atlas",): [
        "neuroplastic atlas docs/atlas-records/mbnn-pmnist-small --out atlas  # atlas.{md,html}",
        "neuroplastic atlas runs/one-run.json              # one run: small multiples",
        "neuroplastic atlas runs/a runs/b --state fisher   # several runs side by side",
    ],
    ("reproduce",): [
        "neuroplastic reproduce --list",
        "neuroplastic reproduce vandeven-split-mnist --seeds 0",
        "neuroplastic reproduce vandeven-permuted-mnist --only scenario=domain --only method=ewc",
        "neuroplastic reproduce classp-split-mnist --strict",
        "neuroplastic reproduce bnn-split-mnist-class --only row=mbnn,engram-bnn --seeds 0",
        "neuroplastic reproduce mbnn-pmnist-official --no-run --markdown  # table so far",
        "neuroplastic reproduce mbnn-pmnist-paper --set device=cuda      # on a GPU",
        "neuroplastic reproduce dgm-mnist10 --only row=dgmw,dgr --seeds 0",
        "neuroplastic reproduce artsy-gating-mnist --no-run   # table from the records so far",
        "neuroplastic reproduce metaplasticity-serial-position-effnet --seeds 100",
    ],
}


def epilog(path: tuple[str, ...]) -> str | None:
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


class ExamplesFormatter(argparse.HelpFormatter):
    """argparse's default formatter re-fills every text block into one paragraph, which would
    run the example lines together. This one fills prose paragraphs as usual and keeps indented
    lines (the examples) as written."""

    def _fill_text(self, text, width, indent):
        blocks = []
        for paragraph in textwrap.dedent(text).split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines[1:]):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(blocks)


def subparsers_of(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (command path, parser) below ``parser``, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subparsers_of(sub, (*path, name))


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Attach the examples to the top level and every subcommand (raw-text formatters keep
    them as they are)."""
    for path, sub in [((), parser), *subparsers_of(parser)]:
        text = epilog(path)
        if text is None or sub.epilog:
            continue
        sub.epilog = text
        if sub.formatter_class is argparse.HelpFormatter:
            sub.formatter_class = ExamplesFormatter
