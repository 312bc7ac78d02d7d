"""Exceptions shared by every layer: the CLI maps InputError to exit code 2, the GUI to a dialog."""


class FusionViewerError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(FusionViewerError):
    """Bad user input (missing/corrupt/non-image file, mismatched sizes, NaN...).

    The message is one line that names the file (when there is one) and the problem.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ModelError(FusionViewerError):
    """The CNN weights are missing, corrupt or fail their checksum."""


class Cancelled(FusionViewerError):
    """A long-running operation observed its cancel flag and stopped."""
