"""Answer CloudFormation for a custom resource: one PUT of the response document to ``ResponseURL``.

A provider that never answers leaves the stack operation waiting until the resource's service
timeout, so the provider answers on every path, failures included (``functions/ticket/onboard_handler.py``).
In AWS the URL is a presigned S3 URL (signed with an empty content type); the local twin gives its
own ``/_local/cloudformation`` URL and reads the same document. The standard library is enough: no
HTTP client dependency for one request per deploy.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

MAX_BODY = 4096
"""CloudFormation refuses a response body over 4 KiB."""
ATTEMPTS = 3


def response(
    request: Mapping[str, Any],
    status: str,
    physical_id: str,
    *,
    reason: str = "",
    data: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The response document of ``request`` (``status``: ``SUCCESS`` or ``FAILED``)."""
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason[:1000] or status,
        "PhysicalResourceId": physical_id,
        "StackId": request.get("StackId", ""),
        "RequestId": request.get("RequestId", ""),
        "LogicalResourceId": request.get("LogicalResourceId", ""),
        "NoEcho": False,
        "Data": dict(data or {}),
    }
    if len(json.dumps(body)) > MAX_BODY:
        body["Data"] = {}
    return body


def send(url: str, body: Mapping[str, Any], *, timeout: float = 10.0) -> None:
    """PUT ``body`` to ``url``, retrying twice on a network error or a 5xx; raises if it never lands."""
    payload = json.dumps(body).encode("utf-8")
    for attempt in range(1, ATTEMPTS + 1):
        put = urllib.request.Request(url, data=payload, method="PUT", headers={"Content-Type": ""})
        try:
            with urllib.request.urlopen(put, timeout=timeout) as answer:  # the URL CloudFormation gave
                answer.read()
            return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == ATTEMPTS:
                raise
        except urllib.error.URLError:
            if attempt == ATTEMPTS:
                raise
        time.sleep(0.5 * attempt)
