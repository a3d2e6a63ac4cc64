"""Ops on recorded deliveries: list, show, replay, and redrive the intake dead-letter queue.

Pure Python: the delivery store, the intake queue and the dead-letter queue come in as arguments
(ports of ``shared.ports``; ``wiring.py`` plugs in the adapters). Every operation is bound to the
caller's tenant and needs the role dispatcher or admin.

- **replay** puts a `failed`, `unmatched` or `queued` delivery back to `queued` (a conditional
  update) and queues it again. The consumer derives the ticket id from the delivery and creates
  tickets idempotently, so a replay can never make a second ticket; a delivery that already
  became a ticket is refused (409).
- **redrive** moves the caller's tenant's messages from the intake DLQ back to the intake queue
  (receive, send, delete). The DLQ is shared by every tenant: messages of other tenants, and
  messages that name no tenant at all, are left where they are (made visible again at the end)
  and counted as `left`. SQS's own `StartMessageMoveTask` would move every tenant's messages
  at once, so it is not used.

The answers' models are ``defer_build``: built by the first request that uses them, not at the cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from shared.domain.deliveries import message_tenant, queue_message
from shared.errors import Forbidden
from shared.identity import Caller

if TYPE_CHECKING:
    from shared.domain.deliveries import StoredDelivery
    from shared.ports import DeadLetters, DeliveryStore, IntakeQueue

OPS_ROLES = ("dispatcher", "admin")
REDACTED = "[redacted]"
SIGNATURE_KEYS = frozenset(
    {"sign", "signature", "signatures", "msg_signature", "token", "secret", "client_secret", "encodingaeskey"}
)
"""Payload keys (any depth, any case) shown as ``[redacted]``: signatures and credentials."""
REDRIVE_BATCH = 10
REDRIVE_HIDE_SECONDS = 60
"""How long a received DLQ message stays hidden while a redrive runs (longer than the function)."""
REDRIVE_RESERVE_SECONDS = 2.0
"""Time kept back at the end of a redrive to release the messages it leaves in the DLQ."""


# --------------------------------------------------------------------------- answers


class DeliveryOut(BaseModel):
    """One delivery in a list: what came in and what became of it."""

    model_config = ConfigDict(defer_build=True)

    channel: str
    delivery_id: str
    platform: str
    topic: str | None
    received_at: datetime
    status: str
    reason: str | None
    ticket_id: str | None
    replays: int
    body_stored: str
    """`item` (in the record), `bucket` (the deliveries bucket, see `body_key`), `omitted`, `none`."""
    body_bytes: int | None


class DeliveryDetail(DeliveryOut):
    """One delivery in full: its kept headers (never signatures) and parsed payload (redacted)."""

    replayed_at: datetime | None
    body_key: str | None
    headers: dict[str, str]
    payload: dict[str, Any]


class DeliveryPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[DeliveryOut]
    next: str | None


class RedriveOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    moved: int
    """Messages of the caller's tenant moved from the DLQ back to the intake queue."""
    left: int
    """Messages left in the DLQ: other tenants' or unreadable ones."""
    complete: bool
    """False when time ran out before the DLQ was drained (run it again)."""


def require_ops(caller: Caller) -> None:
    if not caller.has_any(*OPS_ROLES):
        raise Forbidden("deliveries are for ops: the role dispatcher or admin is needed")


def redact(value: Any) -> Any:
    """`value` with signature and credential entries replaced by ``[redacted]``."""
    if isinstance(value, dict):
        return {k: (REDACTED if str(k).lower() in SIGNATURE_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def summary(delivery: StoredDelivery) -> DeliveryOut:
    return DeliveryOut(
        channel=delivery.channel,
        delivery_id=delivery.delivery_id,
        platform=delivery.platform,
        topic=delivery.topic,
        received_at=delivery.received_at,
        status=delivery.status,
        reason=delivery.reason,
        ticket_id=delivery.ticket_id,
        replays=delivery.replays,
        body_stored=delivery.body_stored,
        body_bytes=delivery.body_size if delivery.body_size is not None else _len(delivery.body),
    )


def detail(delivery: StoredDelivery) -> DeliveryDetail:
    return DeliveryDetail(
        **summary(delivery).model_dump(),
        replayed_at=delivery.replayed_at,
        body_key=delivery.body_key,
        headers=dict(delivery.headers),  # kept_headers: topics and ids, never signatures
        payload=redact(delivery.payload),
    )


def _len(body: bytes | None) -> int | None:
    return len(body) if body is not None else None


# --------------------------------------------------------------------------- operations


def list_deliveries(
    store: DeliveryStore,
    caller: Caller,
    *,
    channel: str | None,
    status: str | None,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[DeliveryOut], dict[str, Any] | None]:
    """A page of the caller's tenant's deliveries, newest first, and the key to continue from."""
    require_ops(caller)
    found, more = store.page(caller.tenant, channel=channel, status=status, limit=limit, start_key=start_key)
    return [summary(d) for d in found], more


def show(store: DeliveryStore, caller: Caller, channel: str, delivery_id: str) -> DeliveryDetail:
    require_ops(caller)
    return detail(store.get(caller.tenant, channel, delivery_id))


def replay(
    store: DeliveryStore,
    queue: IntakeQueue,
    caller: Caller,
    channel: str,
    delivery_id: str,
    at: datetime,
) -> DeliveryDetail:
    """Back to `queued` (conditional) and onto the intake queue again; see the module docstring."""
    require_ops(caller)
    delivery = store.requeue(caller.tenant, channel, delivery_id, at)
    queue.send(queue_message(caller.tenant, channel, delivery_id))
    return detail(delivery)


def redrive(
    dead_letters: DeadLetters,
    queue: IntakeQueue,
    caller: Caller,
    *,
    time_left: Callable[[], float],
) -> RedriveOut:
    """Move the caller's tenant's messages from the DLQ to the intake queue: receive, send, delete."""
    require_ops(caller)
    moved = 0
    seen: set[str] = set()
    left: list[str] = []
    complete = False
    try:
        while time_left() > REDRIVE_RESERVE_SECONDS:
            batch = [
                m
                for m in dead_letters.receive(REDRIVE_BATCH, REDRIVE_HIDE_SECONDS)
                if m.message_id not in seen
            ]
            if not batch:
                complete = True
                break
            for message in batch:
                seen.add(message.message_id)
                if message_tenant(message.body) != caller.tenant:
                    left.append(message.handle)
                    continue
                queue.send_body(message.body)
                dead_letters.delete(message.handle)
                moved += 1
    finally:
        for handle in left:
            dead_letters.release(handle)
    return RedriveOut(moved=moved, left=len(left), complete=complete)
