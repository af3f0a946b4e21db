"""Every example command in the README and the docs runs as printed (issue 23).

Two levels, so the suite stays fast:

- blocks marked ``<!-- docs-example ... -->`` on the line before their fence are cheap and run
  here exactly as printed, in order, in one temporary folder per page (so a page's report step
  reads what its comparison step wrote);
- every other ``neuroplastic ...`` line in a ``bash`` block is parsed, and ``run`` lines are
  also resolved (every name, key and value validated, nothing trained), except lines with a
  placeholder (``...``, ``FILE.yaml``, ``<name>``, ``a|b``).

To make a new example run in the suite, put the marker line before its block; keep marked
examples to a few seconds each (the whole file should stay under about 30 s on two cores).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from neuroplastic.cli import build_parser, main, parse_args
from neuroplastic.cli.run import plan_runs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = "<!-- docs-example"
FENCE = re.compile(r"^```(\w*)")
PLACEHOLDER = re.compile(
    r"\.\.\.|…|\[--|FILE\.yaml|my\.yaml|my_data|<[^>]*>|[A-Z]{3,}[:=]|\w\|\w|\bDIR\b"
)
PROGRAMS = (".venv/bin/neuroplastic", "neuroplastic")


def blocks(page: Path) -> list[tuple[bool, list[str]]]:
    """(marked, command lines) of every bash block of a page."""
    out, lines = [], page.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match and match.group(1) in ("bash", "sh", "console", ""):
            before = next((x for x in reversed(lines[:i]) if x.strip()), "")
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append((before.strip().startswith(MARKER), body))
        elif match:  # another language: skip to its closing fence
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
        i += 1
    return out


def commands(body: list[str]) -> list[str]:
    """The neuroplastic command lines of a block, comments removed, continuations joined."""
    joined, cur = [], ""
    for line in body:
        cur += line.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        joined.append(cur)
        cur = ""
    out = []
    # `a; b` and `a && b` are two commands
    parts = [part for line in joined for part in re.split(r";|&&", re.sub(r"\s+#.*$", "", line))]
    for line in parts:
        text = line.strip()
        text = re.sub(r"^(\w+=\S+\s+)+", "", text)  # NEUROPLASTIC_DATA=... before the command
        if text.split(" ", 1)[0] in PROGRAMS:
            out.append(text)
    return out


def argv_of(command: str) -> list[str]:
    return shlex.split(command)[1:]


MARKED = [(p, c) for p in PAGES for marked, b in blocks(p) if marked for c in commands(b)]
OTHERS = [
    (p, c)
    for p in PAGES
    for marked, b in blocks(p)
    if not marked
    for c in commands(b)
    if not PLACEHOLDER.search(c)
]


def test_there_are_marked_examples():
    assert len(MARKED) >= 4, MARKED
    assert {p.name for p, _ in MARKED} >= {"README.md", "index.md"}


def test_marked_examples_run_as_printed(tmp_path, monkeypatch, capsys):
    """Every marked command, in page order, in one temporary folder; a command printed on two
    pages (the README and docs/index.md share the first-hour path) runs once."""
    monkeypatch.chdir(tmp_path)
    done = set()
    for page, command in MARKED:
        argv = argv_of(command)
        if tuple(argv) in done:
            continue
        done.add(tuple(argv))
        try:
            code = main(argv)
        except SystemExit as exc:  # --help
            code = exc.code
        assert code == 0, f"{page.name}: `{command}` exited with {code}"
    assert (tmp_path / "runs" / "first" / "report.csv").exists()
    capsys.readouterr()


@pytest.mark.parametrize(
    "page,command", OTHERS, ids=[f"{p.name}:{c[:60]}" for p, c in OTHERS]
)
def test_other_examples_parse_and_resolve(page, command):
    args = parse_args(build_parser(), argv_of(command))
    if getattr(args, "command", None) == "run":
        if args.config and not Path(args.config).exists():
            pytest.skip(f"needs {args.config}")
        runs, _, _ = plan_runs(args)  # every config resolved: names, keys, values
        assert runs
