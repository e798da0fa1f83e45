"""The one error tree of recvault: every domain failure is a ``VaultError``.

Edges map these to an HTTP status (``api.problems``) and a CLI exit code
(``vault.cli``) in exactly one place each. Messages never carry plaintext or
an identifier of a person; ids in messages are internal, pseudonymous ids.
"""

from __future__ import annotations


class VaultError(Exception):
    """Base of every recvault error. ``code`` is a stable machine-readable slug."""

    code = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()


class InvalidInput(VaultError):
    """The request is malformed or violates a rule of the domain."""

    code = "invalid-input"


class InvalidCursor(InvalidInput):
    """The cursor is not one this list gave out (altered, expired, or for another list)."""

    code = "invalid-cursor"


class ConfigError(VaultError):
    """The configuration is invalid; the message names the key."""

    code = "config-error"


class NotFound(VaultError):
    """No such subject, record, hold or object."""

    code = "not-found"


class Erased(VaultError):
    """The record or subject existed and has been erased (crypto-shredded)."""

    code = "erased"


class Conflict(VaultError):
    """The request conflicts with the current state (e.g. a legal hold)."""

    code = "conflict"


class HeldByLegalHold(Conflict):
    """A legal hold covers the target; it cannot be erased or moved."""

    code = "legal-hold"


class Unauthenticated(VaultError):
    """No credentials, or credentials not recognised."""

    code = "unauthenticated"


class PermissionDenied(VaultError):
    """The principal lacks the role or the region for this action."""

    code = "forbidden"


class RegionNotGranted(PermissionDenied):
    """The principal is not granted the region of what it asked for."""

    code = "region-not-granted"


class ProcessingRestricted(PermissionDenied):
    """Processing of this subject is restricted at the subject's request."""

    code = "restricted"


class TooLarge(VaultError):
    """The content exceeds the configured maximum size."""

    code = "too-large"


class LengthRequired(InvalidInput):
    """The content length must be known before sealing starts."""

    code = "length-required"


class RangeNotSatisfiable(VaultError):
    """The byte range lies outside the record."""

    code = "range-not-satisfiable"

    def __init__(self, message: str = "", *, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


class RequestTimeout(VaultError):
    """The client stopped sending its request before it was complete."""

    code = "request-timeout"


class IntegrityError(VaultError):
    """Stored data failed authentication: tampered, truncated, or wrong key."""

    code = "integrity"


class Unavailable(VaultError):
    """A dependency (key service, object store, database) is down; retry later."""

    code = "unavailable"

    def __init__(self, message: str = "", *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SchemaNotCurrent(Unavailable):
    """The metadata database lacks recvault's schema or holds an older one."""

    code = "schema-not-current"

    def __init__(self) -> None:
        super().__init__(
            "the metadata database lacks recvault's schema or holds an older one: "
            "run `recvault db upgrade`",
            retry_after=30,
        )
