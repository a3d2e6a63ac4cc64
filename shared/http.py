"""One input boundary and one way to turn errors into HTTP answers, shared by every HTTP resolver.

``resolve(app, event, context)`` is every JSON API's entry: before the resolver parses anything,
``preflight`` refuses what no route can take, each with the documented error shape and a message
that names the problem and where it is:

- a body of a content type other than JSON: 415 (``Content-Type: application/json`` expected);
- a body over ``MAX_JSON_BODY`` bytes: 413;
- JSON nested deeper than ``MAX_DEPTH`` levels: 400, with the byte offset;
- malformed JSON, ``NaN``/``Infinity`` literals, integers too long to read: 400, with line and column;
- strings that cannot be stored as UTF-8 (lone surrogates such as ``"\\ud800"``): 422, with the
  field's path (``fields.customer_name``).
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from shared import tenant_scope
from shared.errors import DomainError, throttling_code
from shared.identity import Caller, caller_from_event
from shared.observability import logger

RETRY_AFTER_SECONDS = "1"
MAX_JSON_BODY = 256 * 1024
MAX_DEPTH = 32
_BODY_METHODS = ("POST", "PUT", "PATCH")


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

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(415, "unsupported_media_type", _JSON_ONLY, [{"field": "content-type"}])

    @app.exception_handler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response[Any]:
        return error_response(
            400, "bad_request", f"the JSON body is nested more than {MAX_DEPTH} levels deep"
        )

    @app.exception_handler(UnicodeEncodeError)
    def _not_storable(exc: UnicodeEncodeError) -> Response[Any]:
        detail = {"field": "body", "message": f"has a character that is not valid Unicode at {exc.start}"}
        return error_response(
            422, "validation_failed", "the request has text that is not valid Unicode", [detail]
        )

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
        method, path = app.current_event.http_method, app.current_event.path
        allowed = allowed_methods(path)
        if allowed and method.upper() not in allowed:
            answer = error_response(
                405, "method_not_allowed", f"{path} takes {', '.join(allowed)}, not {method}"
            )
            answer.headers["Allow"] = ", ".join(allowed)
            return answer
        return error_response(404, "not_found", f"no route {method} {path[:200]}")

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


_OPENAPI = Path(__file__).resolve().parent.parent / "functions" / "ticket" / "openapi.json"


@lru_cache(maxsize=1)
def _route_table() -> tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]:
    """(path pattern, methods) of every documented route (the served OpenAPI document)."""
    try:
        paths = json.loads(_OPENAPI.read_text(encoding="utf-8"))["paths"]
    except (OSError, ValueError, KeyError):
        return ()
    table = []
    for template, operations in paths.items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        table.append((re.compile(f"^{pattern}$"), tuple(m.upper() for m in operations)))
    return tuple(table)


def allowed_methods(path: str) -> list[str]:
    """The methods the API takes on ``path`` (empty when no route has that path)."""
    return sorted({m for pattern, methods in _route_table() if pattern.match(path) for m in methods})


_JSON_ONLY = "send the body as JSON, with the header Content-Type: application/json"


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The JSON API entry: ``preflight``, then the resolver."""
    refused = preflight(event)
    if refused is not None:
        return refused
    raw_path = event.get("rawPath")
    if isinstance(raw_path, str) and "%" in raw_path:
        # The resolver reads path parameters from the raw path: decode it, as API Gateway decodes
        # pathParameters, so ids with non-ASCII characters are the ids the caller meant.
        event = {**event, "rawPath": unquote(raw_path, errors="replace")}
    return app.resolve(event, context)


def _answer(status: int, code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    body = {"error": code, "message": message, "details": details or []}
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, ensure_ascii=True),
        "isBase64Encoded": False,
    }


def preflight(event: dict[str, Any]) -> dict[str, Any] | None:
    """The API Gateway answer refusing ``event``'s body (see the module doc), or None to go on."""
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()
    body = event.get("body")
    if method not in _BODY_METHODS or not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        detail = {"field": "content-type", "message": f"is {media[:100]}; expected application/json"}
        return _answer(415, "unsupported_media_type", _JSON_ONLY, [detail])
    try:
        raw = (
            base64.b64decode(body)
            if event.get("isBase64Encoded")
            else str(body).encode("utf-8", "surrogatepass")
        )
    except ValueError:
        return _answer(400, "bad_request", "the body is not valid base64")
    if len(raw) > MAX_JSON_BODY:
        return _answer(
            413,
            "payload_too_large",
            f"the body is {len(raw)} bytes; a JSON request may be at most {MAX_JSON_BODY}",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = {"field": "body", "message": f"is not UTF-8 text: {exc.reason} at byte {exc.start}"}
        return _answer(422, "validation_failed", "the request body is not UTF-8 JSON", [detail])
    too_deep = _depth_exceeded(text)
    if too_deep is not None:
        detail = {"field": "body", "message": f"nests more than {MAX_DEPTH} levels (at character {too_deep})"}
        return _answer(
            400, "bad_request", f"the JSON body is nested more than {MAX_DEPTH} levels deep", [detail]
        )
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        detail = {"field": "body", "message": f"is not valid JSON: {message}{where}"}
        return _answer(400, "bad_request", f"the body is not valid JSON ({message}{where})", [detail])
    bad = _unstorable(parsed, "")
    if bad is not None:
        detail = {
            "field": bad or "body",
            "message": "has a character that is not valid Unicode (a lone surrogate)",
        }
        return _answer(422, "validation_failed", "the request has text that is not valid Unicode", [detail])
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value; numbers must be finite")


def _depth_exceeded(text: str) -> int | None:
    """The offset where JSON ``text`` first nests deeper than ``MAX_DEPTH``, or None (strings skipped)."""
    depth, in_string, escaped = 0, False, False
    for offset, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return offset
        elif char in "]}":
            depth -= 1
    return None


def _unstorable(value: Any, path: str) -> str | None:
    """The path of the first string (or key) that cannot be encoded as UTF-8, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _unstorable(key, path) is not None:
                return path or "body"
            found = _unstorable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _unstorable(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


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
    requests are signed with the data-access role tagged with that tenant, ``shared/tenant_scope.py``).

    A token of a tenant that is not deployed is answered 404 here, before any table or queue
    request: the data-access roles are shared by every tenant, so no role refuses it for us.
    """
    from shared.tenant.store import tenant_config  # its first request: not at the handler's init

    caller = caller_from_event(app.current_event.raw_event)
    tenant_config(caller.tenant)  # NotFound for an unknown tenant; the config comes from the cache
    tenant_scope.enter(caller.tenant)
    return caller
