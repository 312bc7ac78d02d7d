"""Command line: ``fusionviewer [SUBCOMMAND] ...``; no subcommand opens the desktop app.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func=run`` (``run(args) -> int``).
Modules are discovered automatically; names starting with ``_`` are skipped. No logic beyond
parsing and calling the core lives here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from .. import RESEARCH_ONLY, __version__
from ..errors import Cancelled, FusionViewerError, InputError

EXIT_OK, EXIT_ERROR, EXIT_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
