"""Supervised training of the fusion CNN: teacher targets, augmentation, training loop, logs.

``python -m fusionviewer.training --help`` (or ``fusionviewer train``) reproduces the bundled
weights; see models/README.md for the exact command.
"""
