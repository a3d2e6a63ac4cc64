"""The platform event bus on EventBridge (``shared.ports.EventBus``): domain events out.

One bus for every tenant (env ``EVENT_BUS_NAME``, ``scrm-events``): a bus, rule or API destination
per tenant would count against account quotas (``docs/events.md``). Entries carry
``source`` = ``scrm.workorders``, ``detail-type`` = the event type, ``detail`` = the event's envelope
and ``time`` = when it occurred.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from shared.domain.events import EVENT_SOURCE, DomainEvent
from shared.settings import settings

MAX_ENTRIES = 10
"""PutEvents takes at most 10 entries per request."""


class EventBridgeBus:
    def __init__(self, name: str, client: Any | None = None) -> None:
        if not name:
            raise RuntimeError("EVENT_BUS_NAME is not set: domain events cannot be published")
        self._name = name
        self._client = client or boto3.client("events", region_name=settings().region)

    def put(self, events: Sequence[DomainEvent]) -> list[str | None]:
        if len(events) > MAX_ENTRIES:
            raise ValueError(f"PutEvents takes at most {MAX_ENTRIES} entries, not {len(events)}")
        if not events:
            return []
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": event.type,
                "Detail": event.body().decode("utf-8"),
                "Time": event.occurred_at,
                "EventBusName": self._name,
            }
            for event in events
        ]
        answer = self._client.put_events(Entries=entries)
        return [
            f"{entry['ErrorCode']}: {entry.get('ErrorMessage', '')}" if entry.get("ErrorCode") else None
            for entry in answer.get("Entries", [])
        ]
