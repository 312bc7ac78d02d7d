"""FusionViewer: supervised CNN fusion of registered multimodal medical images.

Research use only, not for diagnosis.
"""

__version__ = "0.1.0"

RESEARCH_ONLY = "Research use only, not for diagnosis"
