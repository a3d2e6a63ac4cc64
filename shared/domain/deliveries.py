"""Deliveries (platform webhooks and web forms) as intake keeps them, and the rules that read them.

Pure Python: stored by ``shared.repositories.deliveries``, accepted by ``functions/webhooks``, made
into tickets by ``functions/ticket/from_delivery.py``; every one of them reads the rules here.

- **what is kept**: a ``StoredDelivery`` (its statuses below) with the headers worth keeping,
  never signatures or tokens (``kept_headers``); raw bodies over ``INLINE_BODY_BYTES`` live in
  the deliveries bucket, the record keeps their object key.
- **the intake queue's message**: ``{"tenant", "channel", "delivery_id"}`` (``queue_message``,
  ``parse_message``, ``message_tenant``).
- **the ticket a delivery becomes**: its id is derived from the delivery (``delivery_ticket_id``),
  its type and fields come from the channel's rules (``ticket_request``).

A channel's rules are tried in order; the first whose every ``when`` entry holds wins:

- ``topic`` compares with the delivery's topic (Shopify's ``X-Shopify-Topic``, WooCommerce's
  ``X-WC-Webhook-Topic``, the ``type`` of Youzan and Standard Webhooks bodies);
- ``match`` is a JMESPath expression on the payload that must be truthy (JMESPath truthiness:
  ``false``, ``null``, ``""``, ``[]`` and ``{}`` are false); an expression that cannot be evaluated
  on this payload (say ``length(null)``) does not match;
- any other key (``type``, ``status``, ...) compares with the payload's top-level value of that
  name (numbers and booleans as their JSON text).

``map_fields`` evaluates each field's JMESPath expression on the payload (the standard functions
and ``phone_in(text)``, the first phone number a customer typed in a message); fields whose value
is null are left out, so the ticket type's defaults and "is required" messages apply. Web forms
have no rules: their ticket type is the channel's ``ticket_type`` and their fields are the body
as posted (``ticket_request`` covers both kinds).

The ops API names the statuses in its routes at init: the stored model is ``defer_build``, built
by the first delivery, not at a cold start.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import jmespath
import jmespath.functions
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult

    from shared.ports import DeliveryLike
    from shared.tenant.models import ChannelRule

DeliveryStatus = Literal["queued", "ticket_created", "unmatched", "failed"]
STATUSES: tuple[str, ...] = ("queued", "ticket_created", "unmatched", "failed")
REPLAYABLE: tuple[str, ...] = ("failed", "unmatched", "queued")
"""Statuses a delivery can be replayed from (``ticket_created`` is final: its ticket exists)."""

INLINE_BODY_BYTES = 1024
"""Raw bodies up to this size stay in the record; bigger ones go to the deliveries bucket.

Every write of the record costs its whole size (1 WRU a started KB: the put, then the status marks),
so a body kept inline is paid again at each mark; an S3 PUT costs about as much as 8 WRU. Inline is
cheaper only for bodies of a KB or two (base64 adds a third, the parsed payload is kept too): a
platform's order webhook (5-20 KB) goes to the bucket, a web form's few hundred bytes stay. The
list index never carries a body either way (``shared/repositories/deliveries.py``)."""


# --------------------------------------------------------------------------- the stored delivery


class StoredDelivery(BaseModel):
    """A verified delivery as intake keeps it."""

    model_config = ConfigDict(defer_build=True)

    tenant: str
    channel: str
    delivery_id: str
    platform: str
    topic: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    received_at: datetime
    status: DeliveryStatus = "queued"
    ticket_id: str | None = None
    reason: str | None = None
    body: bytes | None = None
    """The raw body as received (None when it is kept in the bucket or was too big to keep)."""
    body_key: str | None = None
    """Object key of the raw body in the deliveries bucket (bodies over ``INLINE_BODY_BYTES``)."""
    body_size: int | None = None
    """Bytes of the raw body as received."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Non-secret headers only: topics and ids (see `KEPT_HEADERS`)."""
    replays: int = 0
    replayed_at: datetime | None = None
    stored_as: Literal["item", "bucket", "omitted", "none"] | None = None
    """Where the raw body is kept, said by a listing entry, which carries neither the body nor the
    payload (the deliveries' index projects only what a list shows); None: known from the fields."""

    @property
    def body_stored(self) -> Literal["item", "bucket", "omitted", "none"]:
        if self.stored_as is not None:
            return self.stored_as
        if self.body_key:
            return "bucket"
        if self.body is not None:
            return "item"
        return "omitted" if self.body_size else "none"


KEPT_HEADERS = frozenset(
    {
        "content-type",
        "x-shopify-topic",
        "x-shopify-webhook-id",
        "x-shopify-shop-domain",
        "x-shopify-event-id",
        "x-wc-webhook-topic",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-id",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-source",
        "event-type",
        "webhook-id",
        "webhook-timestamp",
    }
)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping with a delivery: topics and ids, never signatures or tokens."""
    return {k.lower(): v[:512] for k, v in headers.items() if k.lower() in KEPT_HEADERS}


# --------------------------------------------------------------------------- the intake queue


@dataclass(frozen=True)
class DeadLetter:
    """A message of the intake queue's dead-letter queue."""

    message_id: str
    body: str
    handle: str


class BadMessage(ValueError):
    """A queue message that is not `{"tenant", "channel", "delivery_id"}` (a bug upstream)."""


def queue_message(tenant: str, channel: str, delivery_id: str) -> dict[str, str]:
    """The intake queue's message for a recorded delivery."""
    return {"tenant": tenant, "channel": channel, "delivery_id": delivery_id}


def parse_message(body: str) -> tuple[str, str, str]:
    """Tenant, channel and delivery id of an intake message; `BadMessage` when it is not one."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadMessage(f"queue message is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage("queue message is not a JSON object")
    values = [data.get(key) for key in ("tenant", "channel", "delivery_id")]
    if not all(isinstance(v, str) and v for v in values):
        raise BadMessage("queue message lacks one of tenant, channel, delivery_id")
    tenant, channel, delivery_id = (str(v) for v in values)
    return tenant, channel, delivery_id


def message_tenant(body: str) -> str | None:
    """The tenant an intake message names, or None when it is not an intake message."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    tenant = data.get("tenant") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


# --------------------------------------------------------------------------- the ticket it becomes


def delivery_ticket_id(tenant: str, channel: str, delivery_id: str) -> str:
    """The id of the ticket a delivery becomes: the same for every redelivery of it."""
    joined = "\x1f".join(("delivery", tenant, channel, delivery_id))
    return f"TK-{hashlib.sha256(joined.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


class _Functions(jmespath.functions.Functions):
    """JMESPath functions beyond the standard ones, for reading free text that customers type."""

    @jmespath.functions.signature({"types": ["string", "null"]})
    def _func_phone_in(self, text: str | None) -> str | None:
        """``phone_in(Content)``: the first phone number written in `text`, or null.

        A WeCom (or any chat) message says "空调漏水, 电话 138 0013 8000": mainland mobile numbers
        (11 digits from 1[3-9], spaces or dashes allowed, ``+86``/``86`` optional) come back as
        ``+86`` and the digits; any other ``+`` number as written without separators.
        """
        if not text:
            return None
        found = _PHONE_IN_TEXT.search(text)
        if found is None:
            return None
        digits = re.sub(r"[\s-]", "", found.group(0))
        if digits.startswith("+"):
            return digits
        return "+86" + (digits[2:] if digits.startswith("86") else digits)


_PHONE_IN_TEXT = re.compile(
    r"(?<![\d+])(?:\+\d{1,3}[\s-]?\d{2,4}(?:[\s-]?\d{2,4}){2,3}|(?:86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2})(?!\d)"
)
OPTIONS = jmespath.Options(custom_functions=_Functions())
"""Every JMESPath search on a delivery uses these options: the standard functions and ``phone_in``."""


@lru_cache(maxsize=1024)
def compiled(expression: str) -> ParsedResult:
    """The compiled JMESPath expression (compiled once per process and expression)."""
    return jmespath.compile(expression)


def search(expression: str, data: Any) -> Any:
    """`expression` evaluated on `data` with the product's functions (``OPTIONS``)."""
    return compiled(expression).search(data, options=OPTIONS)


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
                if not truthy(search(expected, payload)):
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
            value = search(expression, dict(payload))
        except JMESPathError as exc:
            problems.append({"field": name, "message": f"mapping {expression!r} failed: {exc}"})
            continue
        if value is not None:
            fields[name] = value
    if problems:
        raise ValidationFailed(f"{len(problems)} field mapping(s) failed on this delivery", problems)
    return fields
