"""`customers` (`CustomerRules`): how a tenant's customers are recognised across channels, and the
rules that give them a tier and tags.

```yaml
customers:
  default_country: CN           # numbers written without a country code are read as this country's
  identity_fields:              # which ticket fields carry the customer (defaults: every field of
    phone: [customer_phone]     #   type phone / email; no name field)
    name: [customer_name]
  tiers:                        # in file order; the first whose `when` holds gives the tier
    - {tier: VIP, when: {path: customer.lifetime_value, gte: 5000}}
  tags:                         # every rule whose `when` holds adds its tag, in file order
    - {tag: repeat, when: {path: customer.tickets, gte: 3}}
  deliveries:                   # optional, per channel: JMESPath to the buyer id / order total
    shopify-main: {buyer_id: "customer.id", order_total: "total_price"}
```

Conditions are the language of `shared.rules.conditions`; their paths and types are checked by
`shared.tenant.checks.customers`. Every key is optional: a file without `customers` still links
tickets to customers by their phone and email fields.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from shared.domain.customer import CALLING_CODES
from shared.rules.conditions import Condition
from shared.tenant.models.base import _Model, did_you_mean
from shared.tenant.models.formats import FieldName, Ident, JmesPath


def _country(code: str) -> str:
    if code not in CALLING_CODES:
        raise ValueError(
            f"unknown country {code!r}{did_you_mean(code, CALLING_CODES)}; "
            f"use one of: {', '.join(CALLING_CODES)}"
        )
    return code


Country = Annotated[str, AfterValidator(_country)]


class IdentityFields(_Model):
    """Ticket fields that carry the customer's phone, e-mail and name (`None`: the defaults)."""

    phone: list[FieldName] | None = None
    """Default: every field of type `phone`."""
    email: list[FieldName] | None = None
    """Default: every field of type `email`."""
    name: list[FieldName] = []
    """The customer's name on a new profile (first one filled)."""


class CustomerTier(_Model):
    """A tier and the condition that gives it."""

    tier: Ident
    when: Condition


class CustomerTag(_Model):
    """A tag and the condition that adds it."""

    tag: Ident
    when: Condition


class DeliveryIdentity(_Model):
    """Where a channel's deliveries carry the buyer (JMESPath on the payload); unset keys keep the
    platform's default (`shared.domain.customer.PLATFORM_PATHS`)."""

    buyer_id: JmesPath | None = None
    email: JmesPath | None = None
    order_total: JmesPath | None = None


class CustomerRules(_Model):
    default_country: Country = "CN"
    identity_fields: IdentityFields = Field(default_factory=IdentityFields)
    tiers: list[CustomerTier] = []
    tags: list[CustomerTag] = []
    deliveries: dict[Ident, DeliveryIdentity] = {}
