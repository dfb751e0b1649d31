"""The project's exception tree: each error carries a sentence that says what to do."""


class PaperpostError(Exception):
    """Base of every error we raise on purpose; the CLI prints it as one sentence."""


class ConfigError(PaperpostError):
    """A setting is missing or malformed."""


class ParseError(PaperpostError):
    """A source body could not be parsed (entries that did parse are kept)."""


class FetchError(PaperpostError):
    """A source could not be fetched (network, HTTP status, size limit)."""


class QueryError(PaperpostError):
    """A profile query is malformed; `position` is the 1-based column of the problem."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        super().__init__(f"{message} at column {position}" if position else message)


class ImportFileError(PaperpostError):
    """A subscribers file could not be read at all."""


class DeliveryError(PaperpostError):
    """A message could not be delivered; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False):
        self.permanent = permanent
        super().__init__(message)


class ServerUnavailable(DeliveryError):
    """The mail server cannot be reached or refuses our login: stop sending, leave the rest queued."""


class NotFound(PaperpostError):
    """A named thing (source, subscriber) does not exist."""


class WorkerLockHeld(PaperpostError):
    """Another worker holds the single-planner lock on this database."""
