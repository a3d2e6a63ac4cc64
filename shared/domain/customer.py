"""One customer across channels, as the domain sees it (stored shape: ``shared/repositories/customers.py``).

Pure Python. What it decides:

- **identity keys**: a customer is recognised by normalised keys, ``phone:+8613800000001``
  (E.164, ``normalise_phone``), ``shopify:<buyer id>`` / ``woocommerce:`` / ``youzan:`` /
  ``wecom:<external user id>`` (``platform_key``) and ``email:<lowercased address>``;
- **matching order**: phone first, then platform ids, then e-mail (``MATCH_ORDER``): when a ticket's
  keys name several customers, the first key's customer is the one it is about, and the others are
  merged with it (the delivery proved they are one person);
- **merge rule** (``survivor``): the older record survives (created first; the smaller id on a tie),
  so every earlier link to it stays valid; the other gets ``merged_into`` and its counters are added;
- **tier and tags** (``classify``): the tenant's ``customers.tiers`` (first that holds) and
  ``customers.tags`` (each that holds) evaluated by ``shared.rules.conditions`` on ``subject``.

Phone numbers are normalised here rather than with ``phonenumbers``: the platform needs CN and US
national forms, trunk prefixes and ``00``/``+`` international forms, and the metadata package would
add megabytes and import time to the intake function's cold start for numbers it never sees.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.rules.conditions import evaluate

if TYPE_CHECKING:
    from shared.tenant.models import CustomerRules

CALLING_CODES: dict[str, str] = {
    "CN": "86",
    "HK": "852",
    "MO": "853",
    "TW": "886",
    "SG": "65",
    "MY": "60",
    "JP": "81",
    "KR": "82",
    "US": "1",
    "CA": "1",
    "GB": "44",
    "DE": "49",
    "FR": "33",
    "AU": "61",
}
"""Countries whose national numbers ``normalise_phone`` reads (ISO 3166 code → calling code)."""

KeyKind = Literal["phone", "platform", "email"]
MATCH_ORDER: tuple[KeyKind, ...] = ("phone", "platform", "email")
PLATFORMS = ("shopify", "woocommerce", "youzan", "wecom")
"""Platforms whose buyer ids identify a customer."""
ECOMMERCE = ("shopify", "woocommerce", "youzan")
"""Platforms whose deliveries are orders: their totals count towards the lifetime value."""

PLATFORM_PATHS: dict[str, dict[str, str]] = {
    "shopify": {"buyer_id": "customer.id", "email": "customer.email || email", "order_total": "total_price"},
    "woocommerce": {"buyer_id": "customer_id", "email": "billing.email", "order_total": "total"},
    "youzan": {"buyer_id": "msg.buyer_id || msg.fans_id", "order_total": "msg.payment"},
    "wecom": {"buyer_id": "ExternalUserID || FromUserName"},
}
"""JMESPath to the buyer's id, e-mail and the order total in each platform's payload (a tenant's
``customers.deliveries`` overrides them per channel)."""


class Customer(BaseModel):
    model_config = ConfigDict(defer_build=True)

    tenant: str
    id: str
    name: str | None = None
    phones: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    platform_ids: list[str] = Field(default_factory=list)
    """``shopify:<buyer id>``, ``youzan:...``, ``wecom:<external user id>``."""
    tier: str | None = None
    tags: list[str] = Field(default_factory=list)
    lifetime_value: Decimal = Decimal("0")
    orders: int = 0
    tickets: int = 0
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    version: int = 1

    @property
    def keys(self) -> list[str]:
        """Every identity key of the customer, in matching order."""
        return [
            *(f"phone:{p}" for p in self.phones),
            *self.platform_ids,
            *(f"email:{e}" for e in self.emails),
        ]


class TimelineEntry(BaseModel):
    """One thing that happened to a customer: a ticket opened or closed, a delivery (an order)
    received, an opportunity. ``ref`` names it (the ticket id, the delivery id), so writing the same
    entry again is harmless."""

    model_config = ConfigDict(defer_build=True)

    at: datetime
    kind: str
    ref: str
    channel: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)


def new_customer_id() -> str:
    return f"CU-{secrets.token_hex(8)}"


# --------------------------------------------------------------------------- identity keys

_SEPARATORS = re.compile(r"[\s\-().\u00a0/]")


def normalise_phone(raw: object, default_country: str = "CN") -> str | None:
    """``raw`` as E.164 (``+8613800000001``), or ``None`` when it cannot be a phone number.

    Accepts ``+`` and ``00`` international forms of any country, national forms of
    ``default_country`` (its trunk ``0`` dropped; a CN mobile ``13800000001``; a US ``(415) 555-0100``
    or ``1-415-555-0100``), with spaces, dashes, dots and brackets.
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    text = _SEPARATORS.sub("", str(raw).strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
        if not digits.isdigit():
            return None
        if digits.startswith("860"):  # "+86 010 ..." written with the trunk zero
            digits = "86" + digits[3:]
        return f"+{digits}" if 8 <= len(digits) <= 15 and digits[0] != "0" else None
    if not text.isdigit():
        return None
    code = CALLING_CODES.get(default_country, "86")
    if code == "1":
        if len(text) == 11 and text.startswith("1"):
            text = text[1:]
        return f"+1{text}" if len(text) == 10 and text[0] in "23456789" and text[3] in "23456789" else None
    if code == "86":
        if len(text) == 13 and text.startswith("861"):
            text = text[2:]
        if len(text) == 11 and re.fullmatch(r"1[3-9]\d{9}", text):
            return f"+86{text}"
        if text.startswith("0") and 10 <= len(text) <= 12:  # landline: trunk 0 + area code + number
            return f"+86{text[1:]}"
        return None
    national = text[1:] if text.startswith("0") else text
    return f"+{code}{national}" if 6 <= len(national) <= 14 else None


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(raw: object) -> str | None:
    """The address trimmed and lowercased (``None`` when it is not an address)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    return text if _EMAIL.fullmatch(text) else None


def platform_key(platform: str, buyer_id: object) -> str | None:
    """``<platform>:<buyer id>`` (``None`` for no id, a guest's ``0``, or a platform without ids)."""
    if platform not in PLATFORMS or buyer_id is None or isinstance(buyer_id, bool):
        return None
    text = str(buyer_id).strip()
    if not text or text in ("0", "unknown", "None"):
        return None
    return f"{platform}:{text[:128]}"


def key_kind(key: str) -> KeyKind:
    prefix = key.split(":", 1)[0]
    return "phone" if prefix == "phone" else "email" if prefix == "email" else "platform"


def ordered_keys(keys: Iterable[str]) -> list[str]:
    """Distinct keys in matching order (phone, platform ids, e-mail), the given order within a kind."""
    unique = list(dict.fromkeys(keys))
    return sorted(unique, key=lambda key: MATCH_ORDER.index(key_kind(key)))


def identity_fields(rules: CustomerRules, field_types: Mapping[str, str]) -> dict[str, list[str]]:
    """The ticket fields that carry phone, e-mail and name for a ticket type whose fields are
    ``field_types`` (name → type): as the tenant's ``identity_fields`` says, else by field type."""
    chosen = rules.identity_fields
    phone = chosen.phone if chosen.phone is not None else [n for n, t in field_types.items() if t == "phone"]
    email = chosen.email if chosen.email is not None else [n for n, t in field_types.items() if t == "email"]
    return {
        "phone": [n for n in phone if n in field_types],
        "email": [n for n in email if n in field_types],
        "name": [n for n in chosen.name if n in field_types],
    }


def keys_from_fields(
    fields: Mapping[str, Any], carriers: Mapping[str, Sequence[str]], default_country: str
) -> tuple[list[str], str | None]:
    """The identity keys (in matching order) and the name a ticket's fields give."""
    keys: list[str] = []
    for name in carriers.get("phone", ()):
        phone = normalise_phone(fields.get(name), default_country)
        if phone:
            keys.append(f"phone:{phone}")
    for name in carriers.get("email", ()):
        email = normalise_email(fields.get(name))
        if email:
            keys.append(f"email:{email}")
    names = [fields.get(n) for n in carriers.get("name", ())]
    person = next((n.strip()[:200] for n in names if isinstance(n, str) and n.strip()), None)
    return ordered_keys(keys), person


def with_keys(customer: Customer, keys: Iterable[str], name: str | None, at: datetime) -> Customer:
    """The profile with ``keys`` added (and a name, if it had none); the same object if nothing is new."""
    phones, emails, platform_ids = list(customer.phones), list(customer.emails), list(customer.platform_ids)
    for key in keys:
        kind, _, value = key.partition(":")
        target, item = (
            (phones, value)
            if kind == "phone"
            else (emails, value)
            if kind == "email"
            else (platform_ids, key)
        )
        if item not in target:
            target.append(item)
    new_name = customer.name or name
    if (phones, emails, platform_ids, new_name) == (
        customer.phones,
        customer.emails,
        customer.platform_ids,
        customer.name,
    ):
        return customer
    return customer.model_copy(
        update={
            "phones": phones,
            "emails": emails,
            "platform_ids": platform_ids,
            "name": new_name,
            "updated_at": at,
        }
    )


# --------------------------------------------------------------------------- merging


def survivor(a: Customer, b: Customer) -> tuple[Customer, Customer]:
    """``(survivor, merged)``: the older record survives (earlier ``created_at``, then smaller id), so
    links made to it earlier stay direct."""
    first, second = sorted((a, b), key=lambda c: (c.created_at, c.id))
    return first, second


def merged(keeper: Customer, loser: Customer, at: datetime) -> Customer:
    """The survivor with the merged customer's identities, counters and merged ids added."""
    combined = with_keys(keeper, loser.keys, loser.name, at)
    return combined.model_copy(
        update={
            "lifetime_value": keeper.lifetime_value + loser.lifetime_value,
            "orders": keeper.orders + loser.orders,
            "tickets": keeper.tickets + loser.tickets,
            "merged_from": list(dict.fromkeys([*keeper.merged_from, loser.id, *loser.merged_from])),
            "updated_at": at,
        }
    )


# --------------------------------------------------------------------------- tiers and tags


def subject(customer: Customer, tier: str | None = None) -> dict[str, Any]:
    """What a condition sees of the customer (``customer.*`` paths of ``shared.rules.conditions``)."""
    platforms = sorted({key.split(":", 1)[0] for key in customer.platform_ids})
    return {
        "customer": {
            "tier": tier,
            "tags": list(customer.tags),
            "lifetime_value": customer.lifetime_value,
            "orders": customer.orders,
            "tickets": customer.tickets,
            "platforms": platforms,
        }
    }


def classify(customer: Customer, rules: CustomerRules) -> tuple[str | None, list[str]]:
    """The tier (first rule in file order that holds, else none) and the tags (each rule that holds,
    in file order). Tier rules see the counters; tag rules also see the tier just given."""
    seen = subject(customer)
    seen["customer"]["tags"] = []
    tier = next((rule.tier for rule in rules.tiers if evaluate(rule.when, seen)), None)
    seen["customer"]["tier"] = tier
    tags = [rule.tag for rule in rules.tags if evaluate(rule.when, seen)]
    return tier, list(dict.fromkeys(tags))
