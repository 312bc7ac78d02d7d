"""METRICS_INFO: group, name, one-sentence description, better direction and unit of each key."""

from __future__ import annotations

INFORMATION = "information"
STRUCTURE = "structure"
SIMILARITY = "similarity to sources"
FUNCTIONAL = "functional fidelity"
REFERENCE = "reference"
GROUPS = (INFORMATION, STRUCTURE, SIMILARITY, FUNCTIONAL, REFERENCE)


def _m(group: str, name: str, description: str, better: str | None, unit: str) -> dict:
    return {"group": group, "name": name, "description": description, "better": better,
            "unit": unit}


METRICS_INFO: dict[str, dict] = {
    "EN": _m(INFORMATION, "Entropy",
             "How much grey-level information the fused image holds (0 = a flat image, 8 = every "
             "grey level equally used).", "higher", "bits"),
    "MI": _m(INFORMATION, "Mutual information",
             "How much of the information of the source images is found again in the fused "
             "image, summed over the sources.", "higher", "nats"),
    "MI_A": _m(INFORMATION, "Mutual information with source A",
               "How much of source A's information the fused image keeps; a collapse means this "
               "modality was dropped.", "higher", "nats"),
    "MI_B": _m(INFORMATION, "Mutual information with source B",
               "How much of source B's information the fused image keeps; a collapse means this "
               "modality was dropped.", "higher", "nats"),
    "SD": _m(STRUCTURE, "Standard deviation",
             "Global contrast of the fused image: how widely its grey levels spread.", "higher",
             "grey levels"),
    "MEAN": _m(STRUCTURE, "Mean grey level",
               "Overall brightness of the fused image (descriptive, no better direction).", None,
               "grey levels"),
    "SF": _m(STRUCTURE, "Spatial frequency",
             "Overall activity of fine detail: how strongly neighbouring pixels differ.", "higher",
             "grey levels"),
    "AG": _m(STRUCTURE, "Average gradient",
             "Average sharpness of edges and fine texture in the fused image.", "higher",
             "grey levels"),
    "EOG": _m(STRUCTURE, "Energy of gradient",
              "Average energy of pixel-to-pixel changes, a focus/sharpness measure.", "higher",
              "grey levels^2"),
    "SCD": _m(SIMILARITY, "Sum of correlations of differences",
              "How well what the fused image added over each source matches the other source.",
              "higher", ""),
    "CC": _m(SIMILARITY, "Correlation coefficient",
             "Average linear correlation between the fused image and each source (1 = "
             "perfectly correlated).", "higher", ""),
    "VIF": _m(SIMILARITY, "Visual information fidelity",
              "How much of the visual information of each source a viewer can still see in the "
              "fused image, summed over the sources.", "higher", ""),
    "Qabf": _m(SIMILARITY, "Edge preservation (Q^AB/F)",
               "How well the edges of the sources (strength and direction) are kept in the fused "
               "image; at most 0.975.", "higher", ""),
    "SSIM": _m(SIMILARITY, "Structural similarity to the sources",
               "Local similarity of brightness, contrast and structure between the fused image "
               "and each source, summed over the sources.", "higher", ""),
    "PSNR": _m(SIMILARITY, "Peak signal-to-noise ratio to the sources",
               "How close the fused image's grey levels are to those of the sources on average.",
               "higher", "dB"),
    "Q0": _m(SIMILARITY, "Universal quality index",
             "Local agreement of correlation, brightness and contrast between the fused image "
             "and each source, averaged.", "higher", ""),
    "QW": _m(SIMILARITY, "Weighted fusion quality index",
             "Like Q0 but counting most where the sources show the most structure.", "higher", ""),
    "QE": _m(SIMILARITY, "Edge-dependent fusion quality index",
             "Weighted quality index of both the images and their edge maps, so that edge "
             "fidelity counts.", "higher", ""),
    "CClow": _m(FUNCTIONAL, "Functional fidelity",
                "Whether the coarse distribution of the functional signal (tracer uptake or bone) "
                "survives in the fused image (1 = fully kept).", "higher", ""),
    "RMSE": _m(REFERENCE, "Root mean square error to the target",
               "Typical grey-level difference between the fused image and the target image.",
               "lower", "grey levels"),
    "PSNR_R": _m(REFERENCE, "Peak signal-to-noise ratio to the target",
                 "How close the fused image is to the target image, on a logarithmic scale.",
                 "higher", "dB"),
    "SSIM_R": _m(REFERENCE, "Structural similarity to the target",
                 "Local similarity of brightness, contrast and structure to the target image "
                 "(1 = identical).", "higher", ""),
    "REL": _m(REFERENCE, "Relative error to the target",
              "Size of the difference to the target relative to the target itself (0 = "
              "identical).", "lower", ""),
}

for _alias, _key, _name in (("ENT", "EN", "Entropy (ENT)"), ("H", "EN", "Entropy (H)"),
                            ("Entropy", "EN", "Entropy"), ("STD", "SD", "Standard deviation"),
                            ("GRAD", "AG", "Average gradient (GRAD)")):
    METRICS_INFO[_alias] = dict(METRICS_INFO[_key], name=_name, alias_of=_key)


def metric_info(key: str) -> dict:
    """Info for any key compute_metrics returns, including MI_<source name>."""
    if key in METRICS_INFO:
        return METRICS_INFO[key]
    if key.startswith("MI_"):
        label = key[3:]
        return _m(INFORMATION, f"Mutual information with {label}",
                  f"How much of {label}'s information the fused image keeps; a collapse means "
                  "this modality was dropped.", "higher", "nats")
    raise KeyError(key)
