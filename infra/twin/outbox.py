"""The twin's outbox: the outbound webhooks the platform would have POSTed, captured.

The twin cannot reach the internet, so ``scrm-webhooks-outbound`` runs with this transport in its
wiring (``functions.webhooks.wiring.use_transport``) instead of ``urllib``: every request it would
send is recorded as it would go out (URL, headers with the Standard Webhooks signature, body) with
the status the endpoint "answered", and ``GET /_local/outbox[?tenant=]`` lists them, oldest first.

Every endpoint answers 200 unless a test says otherwise: ``POST /_local/outbox/answers``
``{"url": ..., "statuses": [500, 500]}`` makes the next requests to that URL answer those statuses
in turn (0 stands for no answer: a timeout), then 200 again; so retries (5xx, 408, 429, timeouts)
and dead letters (another 4xx) can be watched end to end. Everything else of the sender (the
queue, its backoff, the dead-letter queue) is the real path through moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.ports import TransportError


class Outbox:
    """A ``WebhookTransport`` that records instead of sending (thread-safe: invocations run at once)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self._answers: dict[str, list[int]] = {}

    def post(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        text = body.decode("utf-8")
        with self._lock:
            queued = self._answers.get(url) or []
            status = queued.pop(0) if queued else 200
            try:
                tenant = str(json.loads(text).get("tenant", ""))
            except ValueError:
                tenant = ""
            self.requests.append(
                {
                    "at": self._now().isoformat(),
                    "tenant": tenant,
                    "url": url,
                    "headers": dict(headers),
                    "body": text,
                    "status": status or None,
                    "timeout_seconds": timeout,
                }
            )
        if status == 0:
            raise TransportError(f"timed out after {timeout} s (the twin's outbox was told to time out)")
        return status

    def answer(self, url: str, statuses: list[int]) -> None:
        """The next requests to ``url`` answer ``statuses`` in turn (0: no answer), then 200."""
        if not url or any(not isinstance(s, int) or not (s == 0 or 100 <= s <= 599) for s in statuses):
            raise ValueError("give a url and statuses: a list of HTTP statuses (100-599), or 0 for a timeout")
        with self._lock:
            self._answers[url] = list(statuses)

    def listing(self, tenant: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.requests if tenant is None or r["tenant"] == tenant]
