"""Errors the services raise; the API layer maps `code` to `extensions.code`.

Messages are written for a client developer: they say what was wrong and how to fix it, and
never carry SQL, tracebacks or internal names.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class BadInput(DomainError):
    code = "BAD_USER_INPUT"
