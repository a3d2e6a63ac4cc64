"""One way to turn errors into HTTP answers, shared by every HTTP resolver."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared.errors import DomainError
from shared.identity import Caller, caller_from_event
from shared.observability import logger


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
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        details = [
            {"field": _location(e.get("loc")), "message": e.get("msg", "is not valid")} for e in exc.errors()
        ]
        return error_response(422, "validation_failed", "the request is not valid", details)

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        path = app.current_event.path
        return error_response(404, "not_found", f"no route {app.current_event.http_method} {path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return error_response(500, "internal", "something went wrong on our side; it has been logged")


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    return caller_from_event(app.current_event.raw_event)
