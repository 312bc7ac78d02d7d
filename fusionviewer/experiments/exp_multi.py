"""Experiment 6: fusion of three sources at once (CT, MRI and SPECT).

The Harvard data holds pairs only, no registered triple. The example takes a CT-MRI val pair
(high in the head, where the anatomy is simplest) and the SPECT of the SPECT-MRI val pair whose
MRI looks most like this MRI, mapped onto it by an affine MRI-to-MRI registration (Mattes mutual information, SimpleITK). The SPECT therefore
comes from another subject and matches the anatomy only approximately: the example shows the
three-input fusion and its N-source metrics, not a clinical result.
"""

from __future__ import annotations

import numpy as np

from ..progress import check_cancel, report
from .context import Context, Section
from .data import load_pair, val_pairs
from .fusing import LABELS, fuse_u8, score
from .markdown import table, write_json
from .plotting import image_grid

NUMBER = 6
TITLE = "Multi-image fusion (three sources)"
COLS = ("EN", "SD", "AG", "MI", "MI_CT", "MI_MRI", "MI_SPECT", "Qabf", "VIF", "SSIM", "QW",
        "CClow", "CClow_CT", "time_ms")


def register_affine(fixed: np.ndarray, moving: np.ndarray, others: list[np.ndarray]
                    ) -> tuple[list[np.ndarray], float]:
    """Affine (Mattes MI) registration of moving onto fixed; returns the others resampled."""
    import SimpleITK as sitk

    f = sitk.GetImageFromArray(fixed.astype(np.float32))
    m = sitk.GetImageFromArray(moving.astype(np.float32))
    init = sitk.CenteredTransformInitializer(f, m, sitk.AffineTransform(2),
                                             sitk.CenteredTransformInitializerFilter.MOMENTS)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    reg.SetMetricSamplingStrategy(reg.NONE)  # every pixel: deterministic
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4,
                                                 numberOfIterations=300)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel([4, 2, 1])
    reg.SetSmoothingSigmasPerLevel([2, 1, 0])
    reg.SetInitialTransform(init, inPlace=False)
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # bit-identical runs
    try:
        tx = reg.Execute(f, m)
        value = reg.GetMetricValue()
        out = [sitk.GetArrayFromImage(sitk.Resample(sitk.GetImageFromArray(o.astype(np.float32)),
                                                    f, tx, sitk.sitkLinear, 0.0))
               for o in others]
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    return [np.clip(np.rint(o.astype(np.float64)), 0, 255) for o in out], float(value)


def choose_triple(ctx: Context):
    """A CT-MRI val pair high in the head (simple anatomy) and the SPECT-MRI val pair with the
    closest MRI (mean absolute difference)."""
    cts = val_pairs(ctx.manifest, "ct-mri")
    spects = val_pairs(ctx.manifest, "spect-mri")
    if not cts or not spects:
        return None
    ct_pair = cts[(4 * len(cts)) // 5]
    ct, mri = load_pair(ctx.config.data, ct_pair)
    best = min(spects, key=lambda p: float(np.mean(np.abs(load_pair(ctx.config.data, p)[0] - mri))))
    return ct_pair, ct, mri, best


def run(ctx: Context) -> Section:
    """Fuse CT + MRI + registered SPECT with every method; N-source metrics."""
    found = choose_triple(ctx)
    if found is None:
        return Section(NUMBER, TITLE, "No CT-MRI and SPECT-MRI val pairs in the data: skipped.")
    ct_pair, ct, mri, sp_pair = found
    sp_mri, spect = load_pair(ctx.config.data, sp_pair)
    (spect_reg, sp_mri_reg), mi_value = register_affine(mri, sp_mri, [spect, sp_mri])
    sources = [ct, mri, spect_reg]
    labels = ("CT", "MRI", "SPECT")
    results = {}
    images = []
    for k, method in enumerate(ctx.methods):
        check_cancel(ctx.cancel)
        fuse_u8(method, sources, device=ctx.config.device)  # warm-up, not timed
        fused, seconds = fuse_u8(method, sources, device=ctx.config.device)
        m = score(fused, sources, 2, labels)
        m["CClow_CT"] = score(fused, sources, 0, labels)["CClow"]
        m["time_ms"] = seconds * 1000.0
        results[method] = m
        images.append((LABELS[method].split(" (")[0], fused))
        report(ctx.progress, "multi-image", (k + 1) / len(ctx.methods))
    write_json(ctx.out / "multi_image.json",
               {"ct_mri_pair": ct_pair.key, "spect_pair": sp_pair.key,
                "registration_mattes_mi": mi_value, "metrics": results})
    fig = image_grid(ctx.out / "multi_image.png",
                     [[(f"CT {ct_pair.name}", ct), (f"MRI {ct_pair.name}", mri),
                       (f"SPECT {sp_pair.name} (registered)", spect_reg),
                       (f"MRI {sp_pair.name} (registered)", sp_mri_reg)], images],
                     "Three-source fusion: CT + MRI + SPECT (another subject, affinely registered)",
                     row_labels=["sources", "fused"])
    cols = [c for c in COLS if c in next(iter(results.values()))]
    body = [__doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
            f"\nPair: CT and MRI `{ct_pair.key}`, SPECT from `{sp_pair.key}` (final Mattes MI "
            f"metric of the MRI-to-MRI registration {mi_value:.3f}). Metrics use the N-source "
            "rules of fusionviewer.metrics (MI, SSIM, VIF summed over the three sources, so "
            "their scale differs from the two-source tables); CClow is against the SPECT, "
            "CClow_CT against the CT; time in ms for one fusion of the three 256×256 sources.\n",
            table(["Method"] + cols, [[LABELS[m]] + [results[m][c] for c in cols]
                                      for m in ctx.methods]),
            f"\n![Three-source fusion]({fig})", "\nData: `multi_image.json`."]
    ours = ctx.primary
    head = [f"Three sources ({LABELS[ours]}): Qabf {results[ours]['Qabf']:.3f}, CClow (SPECT) "
            f"{results[ours]['CClow']:.3f}, CClow (CT) {results[ours]['CClow_CT']:.3f}, "
            f"MI {results[ours]['MI']:.3f} nats."]
    return Section(NUMBER, TITLE, "\n".join(body), files=[fig, "multi_image.json"], headline=head)
