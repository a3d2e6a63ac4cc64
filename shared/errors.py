"""Domain errors. Handlers turn them into HTTP answers in one place each."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An error a caller can act on: it has an HTTP status, a code and a message for a person."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class NotReady(Conflict):
    """409 ``not_ready``: the node does not take actions yet (the workflow has not parked there);
    the same request succeeds shortly. Answered with ``Retry-After``."""

    code = "not_ready"
    retry_after = 1


class Unavailable(DomainError):
    """503: a service the request needs refused it (after the SDK's retries); nothing was kept,
    so the same request can simply be sent again. Answered with ``Retry-After``."""

    status, code = 503, "unavailable"
    retry_after = 1


class ValidationFailed(DomainError):
    """422: ``details`` holds one ``{"field", "message"}`` entry per bad field."""

    status, code = 422, "validation_failed"


THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Throttling",
    }
)


def throttling_code(exc: BaseException) -> str | None:
    """The throttling error code behind ``exc`` (a botocore ``ClientError`` or a pynamodb error
    wrapping one, anywhere in its cause chain), or None when it is not throttling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "cause_response_code", None)  # pynamodb
        response = getattr(current, "response", None)  # botocore ClientError
        if code is None and isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code")
        if code in THROTTLING_CODES:
            return str(code)
        current = current.__cause__ or current.__context__
    return None


class LoopLimitExceeded(Exception):
    """A node was visited more often than the workflow allows (see the ASL compiler)."""


class TechnicianBusy(Conflict):
    """409: the technician could not take the ticket (off, at capacity, or already holds it)."""
