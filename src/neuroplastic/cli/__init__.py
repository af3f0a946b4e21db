"""The ``neuroplastic`` command line: ``main`` and the parser. One module per subcommand
(``run``; ``list`` and ``show`` in ``show``; ``sweep``, ``tune``, ``reproduce``, ``report``,
``atlas``), each with ``register(subparsers)`` and its ``cmd_*``; ``helptext`` holds the examples
of every ``--help``. The commands are thin: what they run lives in the library
(``experiment``, ``experiments/``).

User errors (unknown names, bad config, missing data) print one clear line and exit with code 2;
an interrupted run says how to resume it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from ..errors import NeuroplasticError


def build_parser() -> argparse.ArgumentParser:
    from . import atlas, report, reproduce, run, show, sweep, tune
    from .helptext import add_examples

    parser = argparse.ArgumentParser(
        prog="neuroplastic", description="Brain-inspired continual learning on real benchmarks."
    )
    parser.add_argument(
        "--debug", action="store_true",
        help="show the full traceback of every error (also accepted after the subcommand)",
    )
    sub = parser.add_subparsers(dest="command")
    run.register(sub)
    show.register_list(sub)
    for module in (atlas, report, reproduce, show, sweep, tune):
        module.register(sub)
    add_examples(parser)
    return parser


def _is_override(token: str) -> bool:
    key, sep, _ = token.partition("=")
    plain = key.replace(".", "").replace("_", "")
    return bool(sep) and not token.startswith("-") and plain.isalnum()


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None = None):
    """``parse_args`` that accepts ``key=value`` overrides anywhere on the line.

    argparse gives a ``nargs="*"`` positional only the first run of values, so in
    ``run --benchmark x.csv a=1 --epochs 2 b=2`` the ``b=2`` would be "unrecognized". Those
    tokens come back from ``parse_known_args`` in order and are appended to ``overrides`` (after
    the first run, so command-line order, which decides which override wins, is kept).
    ``parse_intermixed_args`` would do this but does not support subparsers.
    """
    args, extra = parser.parse_known_args(argv)
    loose = [t for t in extra if _is_override(t)]
    rest = [t for t in extra if not _is_override(t)]
    if loose and not hasattr(args, "overrides"):
        rest = extra
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if loose:
        args.overrides = [*args.overrides, *loose]
    return args


class _ConsoleFormat(logging.Formatter):
    """Library messages on the console: ``warning: ...`` for problems, plain text for notes."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        return text


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time of each message (it may be
    replaced after the handler is made, e.g. by a test capturing output)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _console_logging(debug: bool) -> None:
    logger = logging.getLogger("neuroplastic")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_ConsoleFormat())
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """The command line. Errors of the user's input (``NeuroplasticError``) and of the file
    system print one line naming what to change and exit with 2; anything else is a bug and
    shows its traceback. ``--debug`` (anywhere on the line) shows every traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    _console_logging(debug)
    parser = build_parser()
    args = parse_args(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except NeuroplasticError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # the file system, not the library: a full disk, a permission, a vanished file
        if debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where} (--debug shows where)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted; finished tasks are checkpointed: rerun with --resume", file=sys.stderr
        )
        return 130

