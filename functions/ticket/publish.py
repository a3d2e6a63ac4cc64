"""Domain events out: the table stream's ticket history lines and settlement records, published on
the platform's event bus (``scrm-ticket-publish``).

Nothing on a ticket's path publishes: the ticket service writes its history line in the same
transaction as the ticket, as it always did, and this consumer of the table stream turns the lines
that are domain events into events (``shared.domain.events.ticket_event``: created, moved, closed,
failed) and settlement records into ``settlement.posted``; other services' events (opportunities,
customers) come as items of the events outbox, written in the transaction of their change
(``shared.repositories.outbox``). The stream's event source filters the rest out, so other writes
cost no invocation.

- An event's id is derived from its item's key, so a record delivered again (a retried batch)
  publishes the same id: consumers, and the outbound webhooks (``webhook-id``), dedupe on it.
- ``PutEvents`` takes 10 entries a request: a batch is sent in chunks of 10
  (:func:`publish`), and the entries EventBridge refused are named, so only their records are
  reported failed and delivered again (``publish_handler.py``).

Pure use-case code on ports (``StreamImages``, ``EventBus``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.domain.events import DomainEvent, settlement_event, ticket_event

if TYPE_CHECKING:
    from shared.ports import EventBus, StreamImages

PUT_EVENTS_MAX = 10


def event_of(images: StreamImages, image: dict[str, Any]) -> DomainEvent | None:
    """The domain event a stream record's new image is; ``None`` for an item that is none (an
    internal history line, or an item the filter let through that is neither kind)."""
    line = images.ticket_event(image)
    if line is not None:
        return ticket_event(line)
    record = images.settlement(image)
    if record is not None:
        key, settled = record
        return settlement_event(key, settled)
    return images.outbox_event(image)  # another service's event (an opportunity, a customer merge)


@dataclass(frozen=True)
class Refused:
    event: DomainEvent
    reason: str


def publish(bus: EventBus, events: Sequence[DomainEvent]) -> list[Refused]:
    """Put ``events`` on the bus in order, 10 per request; the ones the bus refused, with why.

    A request that fails as a whole (throttled, the bus unreachable) raises: the caller's whole
    batch is then delivered again, and the ids keep that harmless for consumers."""
    refused: list[Refused] = []
    for start in range(0, len(events), PUT_EVENTS_MAX):
        chunk = list(events[start : start + PUT_EVENTS_MAX])
        answers = bus.put(chunk)
        refused.extend(Refused(event, why) for event, why in zip(chunk, answers, strict=True) if why)
    return refused
