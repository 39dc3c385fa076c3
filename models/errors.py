"""Domain errors: what a mutation reports back as a `UserError`."""

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    INVALID_TRANSITION = "INVALID_TRANSITION"


class DomainError(Exception):
    """Raised inside a transaction to abort it; carries the input path it is about."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        field: list[str] | None = None,
        existing: list[tuple[str, int]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        # DUPLICATE errors: (type name, id) of the records the input clashes with.
        self.existing = existing


class DomainErrors(Exception):
    """Several problems at once (validation collects every one before giving up)."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
