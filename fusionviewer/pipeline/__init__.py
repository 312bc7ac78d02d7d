"""The one way into the core for the CLI, the GUI, batch runs, the experiments and benchmarks.

The flow of one fusion, top to bottom:

- ``options.py``: ``FusionOptions`` (every choice) and the allowed values of each choice;
- ``sources.py``: which image a path means (series, modality guess, the demo pair);
- ``job.py``: ``FusionJob``: load -> check grids -> register -> normalize -> fuse -> compose,
  with the CNN -> GFF and GPU -> CPU fallbacks inside the fusion step;
- ``measure.py``: ``measure(result)`` with the one functional-source rule;
- ``export.py``: formats, the destination check before any work, the writers;
- ``batch.py``: ``run_batch`` over same-named files, with a summary CSV.

Example::

    from fusionviewer.pipeline import FusionJob, FusionOptions, export_result, measure

    options = FusionOptions(method="cnn", modalities=["MR", "PT"])
    result = FusionJob(["mri.png", "pet.png"], options).run()
    export_result(result, "fused.png")
    print(measure(result)["Qabf"])
"""

from .batch import BATCH_CSV, BatchRow, run_batch
from .export import check_output, export_result, output_format, write_text
from .job import FusionJob, FusionResult, PreparedSources, fuse_gray
from .measure import functional_index, measure, measure_volume
from .options import (BLOCK_SIZES, DEVICES, FORMATS, INITS, METHOD_LABELS, REGISTRATIONS, STAGES,
                      FusionOptions)
from .sources import SeveralSeries, demo_pair, guess_modality, load_source, load_sources

__all__ = ["BATCH_CSV", "BLOCK_SIZES", "DEVICES", "FORMATS", "INITS", "METHOD_LABELS",
           "REGISTRATIONS", "STAGES", "BatchRow", "FusionJob", "FusionOptions", "FusionResult",
           "PreparedSources", "SeveralSeries", "check_output", "demo_pair", "export_result",
           "functional_index", "fuse_gray", "guess_modality", "load_source", "load_sources",
           "measure", "measure_volume", "output_format", "run_batch", "write_text"]
