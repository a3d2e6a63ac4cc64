"""A small HTTP client for the twin (used by the demo, the e2e tests and the benchmarks)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class TwinClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def as_user(self, tenant: str, sub: str, roles: list[str]) -> TwinClient:
        answer = self.post("/_local/token", {"tenant": tenant, "sub": sub, "roles": roles})
        if answer.status != 200:
            raise RuntimeError(f"token refused: {answer.status} {answer.body}")
        return TwinClient(self.base_url, answer.body["token"])

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"content-type": "application/json", **(headers or {})}
        if self.token:
            all_headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, payload, hdrs = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, payload, hdrs = err.code, err.read(), dict(err.headers)
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return Answer(status, parsed, {k.lower(): v for k, v in hdrs.items()})

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return self.request("POST", path, body, **kwargs)

    def wait_ready(self, ticket_id: str, *, node: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
        """Poll until the ticket waits for an action (optionally at ``node``) or is no longer open."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            answer = self.get(f"/tickets/{ticket_id}")
            last = answer.body
            if answer.status == 200 and (
                last["status"] != "open" or (last["ready"] and (node is None or last["node"] == node))
            ):
                return dict(last)
            time.sleep(0.05)
        raise TimeoutError(f"ticket {ticket_id} did not become ready at {node or 'any node'}: {last}")

    def wait_status(self, ticket_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.get(f"/tickets/{ticket_id}").body
            if last.get("status") == status:
                return dict(last)
            time.sleep(0.05)
        raise TimeoutError(f"ticket {ticket_id} did not reach status {status}: {last}")
