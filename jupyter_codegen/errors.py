"""User-facing errors.

Every error the user can meet is a `CodeGenError` whose message is one sentence saying what to do;
the magics print that sentence instead of a traceback.
"""


class CodeGenError(Exception):
    """An error whose message is meant for the user as it is."""


class ModelNotFoundError(CodeGenError):
    pass


class OfflineModelError(CodeGenError):
    pass


class ExportError(CodeGenError):
    pass


class CorruptModelError(CodeGenError):
    pass


class RemoteModelError(CodeGenError):
    pass


class RequestError(CodeGenError):
    """The user's request (cell body, options) cannot be served as written."""
