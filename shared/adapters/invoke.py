"""Invoke a platform function synchronously (``scrm-ticket-onboard`` -> ``scrm-dispatch-seed``)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from shared.settings import settings


class SeedFailed(RuntimeError):
    """The seed function answered with a function error (its message in the text)."""


class LambdaSeeder:
    """``functions.ticket.onboard.Seeder`` over a Lambda ``Invoke`` of the seed function."""

    def __init__(self, function: str, client: Any | None = None) -> None:
        self.function = function
        self._client = client or boto3.client("lambda", region_name=settings().region)

    def seed(self, tenant: str, roster: str) -> dict[str, Any]:
        payload = {"op": "seed_technicians", "tenant": tenant, "roster": roster}
        answer = self._client.invoke(FunctionName=self.function, Payload=json.dumps(payload).encode())
        body = answer["Payload"].read().decode("utf-8")
        if answer.get("FunctionError"):
            raise SeedFailed(f"{self.function}: {body[:500]}")
        parsed = json.loads(body or "null")
        return parsed if isinstance(parsed, dict) else {}
