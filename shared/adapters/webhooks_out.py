"""Outbound webhooks: the HTTP transport (``shared.ports.WebhookTransport``) and the outbound
queue with its dead-letter queue (``shared.ports.OutboundQueue``).

The transport is the standard library's ``urllib`` (no extra dependency in the Lambda bundle):
one POST, a short timeout, redirects NOT followed (a redirect is the receiver's configuration
error, and following it would send a signed body to a URL the tenant never named), ``https`` only.
The local twin, which cannot reach the internet, puts its own transport in the sender's wiring and
records the requests instead (``infra/twin/outbox.py``).
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import boto3

from shared.ports import TransportError
from shared.settings import settings

MAX_BATCH = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class UrllibTransport:
    def post(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        if not url.startswith("https://"):
            raise ValueError(f"outbound webhooks go to https URLs only, not {url}")
        host = urlsplit(url).hostname or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None  # a name: resolved by the internet's DNS (the function runs outside any VPC)
        if host == "localhost" or (address is not None and not address.is_global):
            raise ValueError(f"outbound webhooks do not go to local or private addresses: {url}")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=timeout) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:  # an answer, with a status that is not 2xx
            return int(exc.code)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc


class SqsOutboundQueue:
    """The outbound queue (env ``WEBHOOK_QUEUE_URL``) and its dead-letter queue (``WEBHOOK_DLQ_URL``)."""

    def __init__(self, url: str, dlq_url: str, client: Any | None = None) -> None:
        if not url or not dlq_url:
            raise RuntimeError(
                "WEBHOOK_QUEUE_URL and WEBHOOK_DLQ_URL must be set: webhooks cannot be retried"
            )
        self._url, self._dlq_url = url, dlq_url
        self._client = client or boto3.client("sqs", region_name=settings().region)

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def dead_letter(self, body: str, reason: str) -> None:
        self._client.send_message(
            QueueUrl=self._dlq_url,
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}},
        )

    def send(self, bodies: Sequence[str]) -> None:
        for start in range(0, len(bodies), MAX_BATCH):
            chunk = bodies[start : start + MAX_BATCH]
            answer = self._client.send_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)],
            )
            if answer.get("Failed"):
                raise RuntimeError(
                    f"{len(answer['Failed'])} message(s) could not be queued: {json.dumps(answer['Failed'])}"
                )
