"""One way to turn errors into HTTP answers, shared by every HTTP resolver."""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared import tenant_scope
from shared.errors import DomainError, throttling_code
from shared.identity import Caller, caller_from_event
from shared.observability import logger

RETRY_AFTER_SECONDS = "1"


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> Response[Any]:
    body = {"error": code, "message": message, "details": details or []}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _location(loc: Any) -> str:
    parts = [str(p) for p in (loc or []) if p not in ("body",)]
    return ".".join(parts) or "body"


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Domain errors, request validation and anything unexpected become our JSON error shape."""

    @app.exception_handler(DomainError)
    def _domain(exc: DomainError) -> Response[Any]:
        answer = error_response(exc.status, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        details = [
            {"field": _location(e.get("loc")), "message": e.get("msg", "is not valid")} for e in exc.errors()
        ]
        return error_response(422, "validation_failed", "the request is not valid", details)

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(exc: UnicodeDecodeError) -> Response[Any]:
        # The resolver decodes a (base64-encoded, binary) request body as UTF-8 before parsing it
        # as JSON: bytes that are not UTF-8 are a malformed body, like invalid JSON (also 422).
        if _body_is_utf8(app):
            return _unexpected(exc)  # not the request's bytes: a decoding bug of ours
        detail = {"field": "body", "message": f"is not UTF-8 text: {exc.reason} at byte {exc.start}"}
        return error_response(422, "validation_failed", "the request body is not UTF-8 JSON", [detail])

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        path = app.current_event.path
        return error_response(404, "not_found", f"no route {app.current_event.http_method} {path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        throttled = throttling_code(exc)
        if throttled:
            # Capacity, not a bug: the SDK's retries with backoff were not enough; the caller retries
            # (platforms redeliver webhooks on any non-2xx, SQS redelivers failed records).
            logger.warning("throttled after retries", code=throttled)
            answer = error_response(503, "unavailable", f"the service is busy ({throttled}); retry shortly")
            answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
            return answer
        logger.exception("unexpected error")
        return error_response(500, "internal", "something went wrong on our side; it has been logged")


def _body_is_utf8(app: APIGatewayHttpResolver) -> bool:
    event = app.current_event
    body = event.body or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode()
        raw.decode("utf-8")
    except (ValueError, UnicodeError):
        return False
    return True


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    """The verified caller; from here on the request acts for the caller's tenant (its table
    requests are signed with that tenant's role, ``shared/tenant_scope.py``)."""
    caller = caller_from_event(app.current_event.raw_event)
    tenant_scope.enter(caller.tenant)
    return caller
