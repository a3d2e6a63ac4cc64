"""The web console on the twin: ``/app/`` serves ``console/app`` as CloudFront serves it from S3.

- files by extension with their content type, gzip-compressed when the browser accepts it and the
  type is text (CloudFront's automatic compression), ``index.html`` for ``/app/``;
- ``/app/config.json`` says where the API is (the same origin here) and how to sign in (the twin's
  picker of the tenants' people, ``GET /_local/people``, then ``POST /_local/token``); in AWS the
  platform stack deploys its own (API origin ``/api``, Cognito's hosted UI);
- nothing outside ``console/app`` is served; a missing vendored package says to run ``make install``.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "console" / "app"
PREFIX = "/app"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
LOCAL_CONFIG = {"apiBase": "", "auth": {"mode": "local"}}


def _answer(status: int, kind: str, body: bytes, accept_encoding: str) -> tuple[int, dict[str, str], bytes]:
    headers = {"content-type": kind, "cache-control": "no-cache", "x-content-type-options": "nosniff"}
    textual = kind.startswith(("text/", "application/json", "image/svg"))
    if textual and "gzip" in accept_encoding and len(body) > 256:
        body = gzip.compress(body, compresslevel=6)
        headers["content-encoding"] = "gzip"
        headers["vary"] = "accept-encoding"
    return status, headers, body


def serve(path: str, accept_encoding: str = "") -> tuple[int, dict[str, str], bytes]:
    """The answer to ``GET path`` under ``/app``."""
    if path == PREFIX:
        return 301, {"location": f"{PREFIX}/"}, b""
    relative = path[len(PREFIX) + 1 :] or "index.html"
    if relative == "config.json":
        return _answer(200, TYPES[".json"], json.dumps(LOCAL_CONFIG).encode(), accept_encoding)
    target = (APP / relative).resolve()
    if APP not in target.parents or not target.is_file():
        missing = relative.startswith("vendor/")
        text = (
            f"{relative} is not vendored: run `make install` (npm packages into console/app/vendor)"
            if missing
            else f"no file {relative} in the console"
        )
        body = json.dumps({"error": "not_found", "message": text, "details": []}).encode()
        return 404, {"content-type": "application/json"}, body
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return _answer(200, kind, target.read_bytes(), accept_encoding)
