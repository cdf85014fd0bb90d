"""Domain errors: a stable code for programs and a Chinese message fit to show a user as it is."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Duplicate(DomainError):
    code = "duplicate"


class Forbidden(DomainError):
    code = "forbidden"


class InsufficientStock(DomainError):
    code = "insufficient_stock"


class InvalidState(DomainError):
    """The document is not in a state that allows this (already approved, cancelled, …)."""

    code = "invalid_state"


class AlreadyDecided(InvalidState):
    """A decision that someone else (or a retried callback) already applied."""

    code = "already_decided"


class CreditLimitExceeded(DomainError):
    code = "credit_limit_exceeded"


class OverReceipt(DomainError):
    code = "over_receipt"
