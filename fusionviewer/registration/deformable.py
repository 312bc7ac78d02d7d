"""Optional B-spline refinement on top of a rigid/affine result (SimpleITK, regular steps).

Defaults (``DEFAULT_TUNING``): control points every ``bspline_grid_mm`` = 40 mm over the fixed
image, at the finest pyramid level (2 mm), at most ``bspline_iterations`` = 50 iterations of at
most ``bspline_step_mm`` = 2 mm, Mattes MI on the same masked samples as the rigid/affine
stages. The result is a composite transform (bulk, then B-spline in fixed space), fixed ->
moving; ``register`` keeps it only when it improves the metric.
"""

from __future__ import annotations

from typing import Any

import SimpleITK as sitk

from . import core as _core


def refine_bspline(level, bulk: sitk.Transform, opts: dict[str, Any], progress, cancel,
                   names: tuple[str, str]) -> tuple[sitk.Transform, int]:
    """(CompositeTransform [bulk, B-spline], iterations) optimised at ``level``."""
    from .volume import _method

    extent = [n * s for n, s in zip(level.fixed.GetSize(), level.fixed.GetSpacing())]
    mesh = [max(1, int(round(e / float(opts["bspline_grid_mm"])))) for e in extent]
    bspline = sitk.BSplineTransformInitializer(level.fixed, mesh, order=3)
    iterations = int(opts["bspline_iterations"])
    method = _method(level, opts, iterations, 1.0)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=float(opts["bspline_step_mm"]), minStep=float(opts["min_step_mm"]),
        numberOfIterations=iterations, relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetMovingInitialTransform(bulk)
    method.SetInitialTransform(bspline, inPlace=True)
    state = _core.run_observed(method, level.fixed, level.moving, 1, iterations, progress,
                               cancel, names)
    composite = sitk.CompositeTransform([bulk, bspline])
    return composite, int(state.total_iterations)
