"""Intake logic: channel rules, field mappings, stable ticket ids, storing and queueing deliveries.

Pure Python: the repository and the queue come in as arguments (no boto3 here).

A channel's rules are tried in order; the first whose every `when` entry holds wins:

- `topic` compares with the delivery's topic (Shopify's `X-Shopify-Topic`, WooCommerce's
  `X-WC-Webhook-Topic`, the `type` of Youzan and Standard Webhooks bodies);
- `match` is a JMESPath expression on the payload that must be truthy (JMESPath truthiness:
  `false`, `null`, `""`, `[]` and `{}` are false); an expression that cannot be evaluated
  on this payload (say `length(null)`) does not match;
- any other key (`type`, `status`, ...) compares with the payload's top-level value of that
  name (numbers and booleans as their JSON text).

`map_fields` evaluates each field's JMESPath expression on the payload; fields whose value
is null are left out, so the ticket type's defaults and "is required" messages apply.

Web forms have no rules: their ticket type is the channel's `ticket_type` and their fields
are the JSON body as posted (`ticket_request` covers both kinds).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from datetime import datetime

    from shared.repositories.deliveries import StoredDelivery
    from shared.tenant.models import ChannelRule


class DeliveryLike(Protocol):
    """What rules read of a delivery: the verified `Delivery` or the stored one."""

    @property
    def topic(self) -> str | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class DeliveryStore(Protocol):
    def record(self, delivery: StoredDelivery) -> bool: ...
    def discard(self, tenant: str, channel: str, delivery_id: str) -> None: ...


class IntakeQueue(Protocol):
    def send(self, message: dict[str, str]) -> None: ...


@lru_cache(maxsize=1024)
def compiled(expression: str) -> ParsedResult:
    """The compiled JMESPath expression (compiled once per process and expression)."""
    return jmespath.compile(expression)


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, empty string, list and object are false; 0 is true."""
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def rule_matches(rule: ChannelRule, delivery: DeliveryLike) -> bool:
    """Whether every `when` entry of `rule` holds for `delivery`."""
    payload = delivery.payload
    for key, expected in rule.when.items():
        if key == "topic":
            if delivery.topic != expected:
                return False
        elif key == "match":
            try:
                if not truthy(compiled(expected).search(payload)):
                    return False
            except JMESPathError:
                return False
        elif _as_text(payload.get(key)) != expected:
            return False
    return True


def match_rule(channel: Any, delivery: DeliveryLike) -> ChannelRule | None:
    """The first rule of `channel` that `delivery` matches, or None (web forms have no rules)."""
    for rule in getattr(channel, "rules", None) or []:
        if rule_matches(rule, delivery):
            return rule
    return None


def ticket_request(channel: Any, delivery: DeliveryLike) -> tuple[str, dict[str, Any]] | None:
    """The ticket type and fields `delivery` asks for on `channel`, or None when no rule matches."""
    if getattr(channel, "platform", None) == "webform":
        return channel.ticket_type, dict(delivery.payload)
    rule = match_rule(channel, delivery)
    if rule is None:
        return None
    return rule.ticket_type, map_fields(rule, delivery.payload)


def map_fields(rule: ChannelRule, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ticket fields `rule` maps out of `payload`; null results are left out.

    An expression that fails on this payload (a function given the wrong type) is a
    `ValidationFailed` with one entry per such field: retrying cannot fix the data.
    """
    fields: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    for name, expression in rule.fields.items():
        try:
            value = compiled(expression).search(dict(payload))
        except JMESPathError as exc:
            problems.append({"field": name, "message": f"mapping {expression!r} failed: {exc}"})
            continue
        if value is not None:
            fields[name] = value
    if problems:
        raise ValidationFailed(f"{len(problems)} field mapping(s) failed on this delivery", problems)
    return fields


# --------------------------------------------------------------------------- stable ids


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def delivery_ticket_id(tenant: str, channel: str, delivery_id: str) -> str:
    """The id of the ticket a delivery becomes: the same for every redelivery of it."""
    return f"TK-{_digest('delivery', tenant, channel, delivery_id)}"


def form_delivery_id(idempotency_key: str | None) -> str:
    """The delivery id of a web form: from its `Idempotency-Key` when sent, else a new one."""
    return f"form:{idempotency_key}" if idempotency_key else f"form:{uuid.uuid4().hex}"


def queue_message(tenant: str, channel: str, delivery_id: str) -> dict[str, str]:
    return {"tenant": tenant, "channel": channel, "delivery_id": delivery_id}


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
) -> bool:
    """Record a verified delivery once and queue it for the intake consumer.

    Returns False for a duplicate (recorded before: nothing is queued again). When the
    message cannot be queued the record is discarded and the error raised, so the
    platform's retry is recorded and queued afresh instead of being taken for a duplicate.
    """
    # the stored record (pynamodb, pydantic) is imported by the first delivery, not at the API's init
    from shared.repositories.deliveries import StoredDelivery, kept_headers

    stored = StoredDelivery(
        tenant=tenant,
        channel=channel,
        delivery_id=delivery_id,
        platform=platform,
        topic=delivery.topic,
        payload=delivery.payload,
        received_at=received_at,
        body=body,
        headers=kept_headers(dict(headers)),
    )
    if not deliveries.record(stored):
        return False
    try:
        queue.send(queue_message(tenant, channel, delivery_id))
    except Exception:
        deliveries.discard(tenant, channel, delivery_id)
        raise
    return True
