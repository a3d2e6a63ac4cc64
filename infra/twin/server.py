"""The twin's HTTP front door: the template's API Gateway routes plus the ``/_local/*`` routes."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.twin.auth import TokenError
from infra.twin.console import PREFIX as CONSOLE_PREFIX
from infra.twin.console import serve as serve_console
from infra.twin.deploy import ACCOUNT, Route
from infra.twin.lambdas import FunctionFailed
from infra.twin.meter import METER
from infra.twin.wecom import PREFIX as WECOM_PREFIX

if TYPE_CHECKING:
    from infra.twin.twin import LocalTwin

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def _pattern(path: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


class Router:
    def __init__(self, routes: list[Route]) -> None:
        # Literal routes win over parameterised ones, as in API Gateway.
        ordered = sorted(routes, key=lambda r: (r.path.count("{"), -len(r.path)))
        self.routes = [(r, _pattern(r.path)) for r in ordered]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route, pattern in self.routes:
            found = pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, found.groupdict()
        # API Gateway's $default route takes every request no other route matches
        default = next((r for r, _ in self.routes if r.method == "$default"), None)
        return (default, {}) if default is not None else None


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"content-type": "application/json"},
        json.dumps(body, ensure_ascii=False, default=str).encode(),
    )


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _json(status, {"error": code, "message": message, "details": []})


def build_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    params: dict[str, str],
    claims: dict[str, Any] | None,
    port: int,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as AWS would build it."""
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    qs: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        qs[key] = f"{qs[key]},{value}" if key in qs else value
    now = time.time()
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": "local",
        "domainName": f"127.0.0.1:{port}",
        "domainPrefix": "127",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{route.method} {route.path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if claims is not None:
        # API Gateway hands JWT claims to the function as strings, lists flattened to "[a b]".
        flat = {
            k: (f"[{' '.join(map(str, v))}]" if isinstance(v, list) else str(v)) for k, v in claims.items()
        }
        context["authorizer"] = {"jwt": {"claims": flat, "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": qs or None,
        "pathParameters": params or None,
        "requestContext": context,
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        return _json(200, result)  # payload 2.0: a bare value is JSON with status 200
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ", ".join(map(str, values))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


def make_handler(twin: LocalTwin) -> type[BaseHTTPRequestHandler]:
    local_routes: dict[tuple[str, str], Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]] = {
        ("POST", "/_local/token"): twin.local_token,
        ("POST", "/_local/clock/advance"): twin.local_advance,
        ("GET", "/_local/clock"): twin.local_clock,
        ("POST", "/_local/sign"): twin.local_sign,
        ("GET", "/_local/messages"): twin.local_messages,
        ("GET", "/_local/people"): twin.local_people,
        ("GET", "/_local/outbox"): twin.local_outbox,
        ("POST", "/_local/outbox/answers"): twin.local_outbox_answers,
        ("GET", "/_local/metrics"): twin.local_metrics,
        ("GET", "/_local/dashboard"): twin.local_dashboard,
        ("PUT", "/_local/cloudformation"): twin.local_cloudformation,  # custom resources' response URL
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "scrm-local-twin"
        _api_started: float | None = None

        def log_message(self, format: str, *args: Any) -> None:
            twin.log_request(format % args)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The HTTP layer's own refusals (414 URI too long, 431 headers, 400 bad request line) in
            the API's JSON error shape, not http.server's HTML page."""
            codes = {414: "uri_too_long", 431: "headers_too_large", 413: "payload_too_large"}
            text = {414: "the request line (path and query string) is too long; the limit is 64 KiB"}
            body = json.dumps(
                {
                    "error": codes.get(code, "bad_request" if code < 500 else "internal"),
                    "message": text.get(code, message or explain or f"HTTP {code}"),
                    "details": [],
                }
            ).encode()
            self.close_connection = True
            try:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.send_header("connection", "close")
                self.end_headers()
                if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(body)
            except OSError:
                pass

        def _serve(self) -> None:
            split = urlsplit(self.path)
            method = self.command
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self._send(
                    *_error(413, "payload_too_large", f"the body is {length} bytes; the limit is {MAX_BODY}")
                )
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            if not twin.ready and split.path != "/_local/cloudformation":
                # Deploying: only the custom resources' answers are taken; a client polling for
                # readiness (the README's `until curl -sf .../_local/clock`) waits for the tenants.
                starting = "the twin is still deploying its stacks; retry in a moment"
                self._send(*_error(503, "starting", starting))
                self.close_connection = True
                return
            console = split.path == CONSOLE_PREFIX or split.path.startswith(f"{CONSOLE_PREFIX}/")
            if method == "GET" and console:  # the web console's static files (console.py)
                self._send(*serve_console(split.path, self.headers.get("accept-encoding") or ""))
                return
            if split.path.startswith(f"{WECOM_PREFIX}/"):  # the WeCom API, emulated (wecom.py)
                self._send(*twin.wecom.handle(method, split.path, split.query, body))
                return
            local = local_routes.get((method, split.path))
            if local is not None:
                try:
                    data = (
                        json.loads(body or b"{}")
                        if method in ("POST", "PUT")
                        else dict(parse_qsl(split.query))
                    )
                    if not isinstance(data, dict):
                        raise ValueError("the body must be a JSON object")
                    self._send(*local(data))
                except (ValueError, KeyError, TypeError) as exc:
                    self._send(*_error(400, "bad_request", str(exc)))
                return
            found = twin.router.match(method, split.path)
            if found is None:
                self._send(*_error(404, "not_found", f"no route {method} {split.path}"))
                return
            route, params = found
            params = {k: unquote(v) for k, v in params.items()}  # API Gateway decodes path parameters
            METER.count("apigw:request")
            self._api_started = time.perf_counter()  # API Gateway's Latency, 4xx and 5xx (metrics store)
            headers: dict[str, str] = {}
            for key, value in self.headers.items():
                k = key.lower()
                headers[k] = f"{headers[k]},{value}" if k in headers else value
            claims = None
            if route.authorized:
                try:
                    claims = twin.issuer.verify(headers.get("authorization"))
                except TokenError as exc:
                    self._send(*_error(401, "unauthorized", str(exc)))
                    return
            event = build_event(
                route, method, split.path, split.query, headers, body, params, claims, twin.port
            )
            try:
                result = twin.lambdas.invoke(route.function, event)
            except FunctionFailed as exc:
                self._send(
                    *_error(500, "internal", f"the function failed ({exc.error_type}); see the twin's log")
                )
                return
            self._send(*_response(result))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            if self._api_started is not None:
                twin.metrics.api_request(status, (time.perf_counter() - self._api_started) * 1000)
                self._api_started = None
            self.send_response(status)
            for key, value in headers.items():
                if key not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets bursts of concurrent clients


def serve(twin: LocalTwin, port: int) -> ThreadingHTTPServer:
    return _Server(("127.0.0.1", port), make_handler(twin))
