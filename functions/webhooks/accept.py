"""Accepting a delivery: verify it, record it once, keep its raw body, queue it for the consumer.

Pure Python: the stores, the queue and the channel secrets come in as arguments (ports of
``shared.ports``; ``wiring.py`` plugs in the AWS adapters). What becomes of a queued delivery is
``functions/ticket/from_delivery.py``'s; the rules both read are in ``shared.domain.deliveries``.

- **webhooks**: ``verified`` checks the platform's signature with the channel's secrets
  (``channel_secrets``: a secret that cannot be read counts as missing, the verifier answers 401).
- **web forms**: ``valid_form`` validates the form against its ticket type (422, one entry per bad
  field); its delivery id comes from the ``Idempotency-Key`` header (``form_delivery_id``), and the
  same key with another form is refused (``refuse_reused_key``).
- **both**: ``accept`` records the delivery once, puts a raw body over 1 KiB (``INLINE_BODY_BYTES``)
  in the bucket and queues the delivery; when a step after the record fails, the record is
  discarded again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.webhooks.platforms import Delivery, Refusal, verify
from shared.domain.deliveries import INLINE_BODY_BYTES, StoredDelivery, kept_headers, queue_message
from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from shared.ports import BodyStore, ChannelSecrets, DeliveryLike, DeliveryStore, IntakeQueue
    from shared.tenant.models import TenantConfig

SECRET_ROLES = ("secret", "token", "aes_key")
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True, slots=True)
class Received:
    """One request to intake as it arrived: header names lowercase, the raw body, the instant."""

    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    at: datetime


# --------------------------------------------------------------------------- verifying


def channel_secrets(secrets: ChannelSecrets, channel: Any, *, fresh: bool = False) -> dict[str, str]:
    """The channel's secret values by role; unreadable or missing ones are left out (→ 401).

    ``fresh``: read them again, past the store's cache (see :func:`verified_with`)."""
    values: dict[str, str] = {}
    for role in SECRET_ROLES:
        name = getattr(getattr(channel, role, None), "ssm", None)
        value = secrets.get(name, fresh=fresh) if name else None
        if value:
            values[role] = value
    return values


SECRET_DEPENDENT_REFUSALS = frozenset({"invalid_signature", "missing_secret", "decryption_failed"})
"""Refusals a rotated secret explains: worth one more try with the secret read afresh."""


def verified_with(secrets: ChannelSecrets, channel: Any, received: Received) -> Delivery:
    """:func:`verified` with the channel's secrets, cached long; when the delivery fails on the
    secret, once more with the secrets read afresh (a rotated secret is used at once)."""
    cached = channel_secrets(secrets, channel)
    try:
        return verified(channel, received, cached)
    except Refusal as refusal:
        if refusal.code not in SECRET_DEPENDENT_REFUSALS:
            raise
        fresh = channel_secrets(secrets, channel, fresh=True)
        if fresh == cached:
            raise
        return verified(channel, received, fresh)


def verified(channel: Any, received: Received, secrets: Mapping[str, str]) -> Delivery:
    """The delivery `received` on `channel`, verified and parsed; a `Refusal` when it is not accepted."""
    return verify(
        channel.platform,
        secrets=secrets,
        channel=channel,
        method="POST",
        headers=received.headers,
        query=received.query,
        body=received.body,
        now=received.at,
    )


# --------------------------------------------------------------------------- web forms


def valid_form(cfg: TenantConfig, channel: Any, delivery: Delivery) -> Delivery:
    """The posted form with its values as its ticket type's wire types; 422 when a field is not valid."""
    # Forms only: the ticket service (domain models, form validation) is imported by the first form.
    from functions.webhooks.adapters.webform import form_values
    from shared.workflow.forms import form_context, ticket_type_of, validate_form

    ticket_type = ticket_type_of(cfg, channel.ticket_type)
    if not isinstance(delivery.payload, dict):
        raise Refusal(400, "malformed_body", "a web form is an object of field values")
    payload = form_values(ticket_type.fields, delivery.payload)  # an HTML form's text as wire types
    _accepted, problems = validate_form(ticket_type.fields, payload, form_context(cfg))
    if problems:
        raise ValidationFailed(f"{len(problems)} field(s) of the form are not valid", problems)
    return replace(delivery, payload=payload)


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The form's `Idempotency-Key` (None when not sent); 400 when it is too long to be one."""
    key = headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise Refusal(400, "bad_request", f"header Idempotency-Key has over {MAX_IDEMPOTENCY_KEY} characters")
    return key or None


def form_delivery_id(idempotency_key: str | None) -> str:
    """The delivery id of a web form: from its `Idempotency-Key` when sent, else a new one."""
    return f"form:{idempotency_key}" if idempotency_key else f"form:{uuid.uuid4().hex}"


def refuse_reused_key(
    deliveries: DeliveryStore, tenant: str, channel: str, key: str, payload: dict[str, Any]
) -> None:
    """A repeated `Idempotency-Key` must come with the same form (as payment APIs do: a key names
    one request; another body under it is a mistake): 422 otherwise."""
    first = deliveries.find(tenant, channel, form_delivery_id(key))
    if first is not None and first.payload != payload:
        raise Refusal(
            422,
            "idempotency_key_reused",
            f"Idempotency-Key '{key[:64]}' was already used for a different form; use a new key",
        )


# --------------------------------------------------------------------------- accepting


def accept(
    deliveries: DeliveryStore,
    queue: IntakeQueue,
    *,
    tenant: str,
    channel: str,
    platform: str,
    delivery: DeliveryLike,
    delivery_id: str,
    body: bytes,
    headers: Mapping[str, str],
    received_at: datetime,
    bodies: BodyStore | None = None,
) -> bool:
    """Record a verified delivery once and queue it for the intake consumer.

    Returns False for a duplicate (recorded before: nothing is stored or queued again, so a
    duplicate never overwrites the first body). A raw body over ``INLINE_BODY_BYTES`` goes to
    `bodies` (when there is a bucket) once the record is in. When the body cannot be stored or
    the message cannot be queued, the record is discarded and the error raised, so the
    platform's retry is recorded and queued afresh instead of being taken for a duplicate.
    """
    in_bucket = bodies is not None and len(body) > INLINE_BODY_BYTES
    stored = StoredDelivery(
        tenant=tenant,
        channel=channel,
        delivery_id=delivery_id,
        platform=platform,
        topic=delivery.topic,
        payload=delivery.payload,
        received_at=received_at,
        body=body,
        body_key=deliveries.body_key(tenant, channel, delivery_id) if in_bucket else None,
        headers=kept_headers(headers),
    )
    if not deliveries.record(stored):
        return False
    try:
        if bodies is not None and stored.body_key is not None:
            bodies.put(stored.body_key, body)
        queue.send(queue_message(tenant, channel, delivery_id))
    except Exception:
        deliveries.discard(tenant, channel, delivery_id)
        raise
    return True
