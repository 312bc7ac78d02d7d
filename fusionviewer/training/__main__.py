"""``python -m fusionviewer.training``: build teacher targets and train the fusion CNN."""

import argparse
import sys

from .command import add_arguments, run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fusionviewer.training",
                                     description="Train the fusion CNN on teacher targets.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
