"""``fusionviewer train``: build teacher targets on the train split and train the fusion CNN."""

from __future__ import annotations


def register(subparsers) -> None:
    from ..training.command import add_arguments

    p = subparsers.add_parser("train", help="train the fusion CNN (teacher targets + training)",
                              description="Build cached teacher targets for the train split of "
                                          "the Harvard pairs and train the fusion CNN.")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training.command import run as run_training

    return run_training(args)
