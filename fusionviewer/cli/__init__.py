"""Command line: ``fusionviewer [SUBCOMMAND] ...``; no subcommand opens the desktop app.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func=run`` (``run(args) -> int``).
Modules are discovered automatically; names starting with ``_`` are skipped. No logic beyond
parsing and calling the core lives here.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from .. import RESEARCH_ONLY, __version__
from ..errors import Cancelled, FusionViewerError, InputError
from ._signals import cancel_on_signals, exit_if_work_abandoned

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_CANCELLED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `yes | head -1` reports for `yes`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fusionviewer",
        description=f"Multimodal medical image fusion with a supervised CNN. {RESEARCH_ONLY}.")
    parser.add_argument("--version", action="version", version=f"fusionviewer {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="open the app with a bundled sample pair loaded and fused")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="with --demo or view: save a screenshot once fusion and metrics "
                             "are done, then exit")
    parser.add_argument("--selftest", action="store_true",
                        help="headless check: fuse the bundled demo pair, measure, export, exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def route_bare_paths(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Existing paths given without a sub-command (the OS opening files with the app) mean `view`."""
    commands: set[str] = set()
    takes_value: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
        elif action.nargs != 0:
            takes_value.update(action.option_strings)
    if "view" not in commands:
        return argv
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("-"):
            i += 2 if token in takes_value else 1
            continue
        if token in commands or not os.path.exists(token):
            return argv
        return argv[:i] + ["view"] + argv[i:]
    return argv


# Commands that open a window handle Ctrl-C in the app; the others cancel the core's work.
_GUI_COMMANDS = ("view",)


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader closing our stdout early (`| head`) ends quietly with 141."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # flush here, where a broken pipe can still be caught
        return code
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a real file (tests capturing it): nothing left to flush


def _main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(route_bare_paths(parser, argv))
    if args.command is None or args.command in _GUI_COMMANDS:
        args.cancel = None
        return _run(args)
    with cancel_on_signals() as interrupt:
        args.cancel = interrupt.token
        code = _run(args)
    code = interrupt.exit_code if interrupt.signum is not None else code
    exit_if_work_abandoned(code)
    return code


def _run(args: argparse.Namespace) -> int:
    """Run the command; errors become one line on stderr and an exit code."""
    try:
        if args.command is None:
            if args.selftest:
                from ._selftest import run_selftest
                return run_selftest()
            from ..gui.app import run_app  # imported lazily: the CLI must work without a display
            return run_app(args)
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"fusionviewer: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except Cancelled:
        print("fusionviewer: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except FusionViewerError as exc:
        print(f"fusionviewer: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("fusionviewer: interrupted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
