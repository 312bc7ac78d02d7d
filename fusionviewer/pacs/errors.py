"""PACS errors: one-line messages that name the server (never its credentials) and the problem."""

from __future__ import annotations

from ..errors import FusionViewerError


class PacsError(FusionViewerError):
    """A PACS operation failed (network, protocol or archive refusal)."""


class PacsConnectionError(PacsError):
    """The server cannot be reached (host down, port closed, timeout, TLS failure)."""


class AssociationRejected(PacsError):
    """The archive refused the association (wrong called AE title, unknown calling AE...)."""


class UnknownAE(PacsError):
    """The archive does not know an AE title it was asked to use (e.g. the C-MOVE destination)."""


class PartialRetrieve(PacsError):
    """Some instances of a series could not be retrieved; ``paths`` holds those that were."""

    def __init__(self, message: str, paths: list | None = None):
        self.paths = list(paths or [])
        super().__init__(message)
