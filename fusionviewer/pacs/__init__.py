"""PACS client (no Qt): DIMSE (pynetdicom) or DICOMweb, chosen per configured server.

    from fusionviewer.pacs import PacsClient, PacsServer, Query
    client = PacsClient(PacsServer(name="archive", host="pacs", port=104, ae_title="PACS"))
    study = client.find_studies(Query(patient_id="123"))[0]
    series = client.find_series(study.study_uid, modality="CT")[0]
    files = client.retrieve_series(study.study_uid, series.series_uid)  # into the cache folder
    client.store(exported_files)  # per-instance StoreReport
"""

from .cache import cache_size, clear_cache, default_cache_dir
from .client import PacsClient, expand_paths
from .config import PacsServer, load_servers, pick_server, servers_from_json, servers_to_json
from .errors import AssociationRejected, PacsConnectionError, PacsError, PartialRetrieve, UnknownAE
from .models import InstanceResult, Query, SeriesInfo, StoreReport, StudyInfo

__all__ = [
    "PacsClient", "PacsServer", "Query", "StudyInfo", "SeriesInfo", "StoreReport",
    "InstanceResult", "PacsError", "PacsConnectionError", "AssociationRejected", "UnknownAE",
    "PartialRetrieve", "load_servers", "pick_server", "servers_from_json", "servers_to_json",
    "default_cache_dir", "clear_cache", "cache_size", "expand_paths",
]
