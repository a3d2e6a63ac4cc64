"""Pydantic models of the tenant file (`examples/tenants/*.yaml`).

The models check the *shape* of each section: types, formats (durations, money,
time zones, JMESPath), unknown keys and the per-kind rules of workflow nodes.
Rules that tie sections together (a node that points at a missing node, a
technician in an unknown region, a price missing for a tier, ...) live in
`shared.tenant.validate`, so that one broken section does not hide the problems
of the others.

Conventions:

- every model is frozen and forbids unknown keys, so a typo is an error that
  names the key;
- money is a `Decimal` read from a string with at most 2 decimals; other
  decimals (coefficients, ratings, weights, percents) are `Decimal` too;
- durations stay strings as written (`"30m"`, `"2h"`, `"1d"`, `"1h30m"`),
  checked by `parse_duration`, which turns them into a `timedelta`;
- `model_dump(mode="json", by_alias=True)` gives back a document that
  `TenantConfig.model_validate` reads to an equal object.

One module per part of the file; import from this package, which re-exports them all:

- values as written: `times` (durations, SLA budgets, clock times, days), `amounts` (money,
  decimals, percentages), `formats` (ids, names, phone, e-mail, currency, time zone, JMESPath,
  SSM names); `base` holds the base model and `did_you_mean`;
- sections: `tenant` (`tenant`, `regions`), `people` (`users`, `technicians`), `sla`
  (`calendars`, `sla_policies`), `settlement` (`catalog`), `dispatch` (`dispatch`), `forms`
  (field definitions), `workflow` (`ticket_types` and their nodes), `channels` (`channels`),
  `customers` (`customers`),
  `notifications` (`wecom_app`);
- `config`: `TenantConfig`, the whole file.
"""

from __future__ import annotations

from shared.tenant.models.amounts import (
    Coefficient,
    Money,
    Number,
    Percent,
    PositiveDecimal,
    Rating,
    Share,
    Weight,
    format_money,
    parse_decimal,
    parse_money,
    parse_percent,
)
from shared.tenant.models.base import did_you_mean
from shared.tenant.models.channels import (
    PLATFORMS,
    Channel,
    ChannelRule,
    Platform,
    SecretRef,
    ShopifyChannel,
    StandardWebhooksChannel,
    WebformChannel,
    WeComChannel,
    WooCommerceChannel,
    YouzanChannel,
    channel_secrets,
)
from shared.tenant.models.config import TenantConfig
from shared.tenant.models.customers import (
    CALLING_CODES,
    CustomerRules,
    CustomerTag,
    CustomerTier,
    DeliveryIdentity,
    IdentityFields,
)
from shared.tenant.models.dispatch import DISPATCH_FACTORS, DispatchConfig
from shared.tenant.models.follow_ups import FollowUp
from shared.tenant.models.formats import (
    Currency,
    Email,
    FieldName,
    Ident,
    JmesPath,
    NodeName,
    Phone,
    SsmName,
    TenantId,
    Text,
    TimeZoneName,
    TypeName,
    WeComUserId,
)
from shared.tenant.models.forms import FIELD_TYPES, FieldDef, FieldType
from shared.tenant.models.notifications import WeComApp
from shared.tenant.models.opportunities import OpportunityOwner, OpportunityRule
from shared.tenant.models.people import BUILTIN_ROLES, GeoPoint, Technician, User
from shared.tenant.models.settlement import (
    Catalog,
    CatalogItem,
    Condition,
    Part,
    Rounding,
    ShareRule,
    Surcharge,
    TierRule,
)
from shared.tenant.models.sla import Calendar, SlaLevel, SlaPolicy
from shared.tenant.models.tenant import CHINESE_TIMEZONES, Locale, Region, TenantInfo
from shared.tenant.models.times import (
    WEEKDAYS,
    Budget,
    ClockTime,
    Duration,
    business_days,
    expand_days,
    format_duration,
    parse_clock_range,
    parse_duration,
)
from shared.tenant.models.workflow import (
    NODE_KINDS,
    Assignee,
    DecisionRule,
    Node,
    NodeKind,
    PriorityRule,
    TicketType,
)

__all__ = [
    "BUILTIN_ROLES",
    "CALLING_CODES",
    "CHINESE_TIMEZONES",
    "DISPATCH_FACTORS",
    "FIELD_TYPES",
    "NODE_KINDS",
    "PLATFORMS",
    "WEEKDAYS",
    "Assignee",
    "Budget",
    "Calendar",
    "Catalog",
    "CatalogItem",
    "Channel",
    "ChannelRule",
    "ClockTime",
    "Coefficient",
    "Condition",
    "Currency",
    "CustomerRules",
    "CustomerTag",
    "CustomerTier",
    "DecisionRule",
    "DeliveryIdentity",
    "DispatchConfig",
    "Duration",
    "Email",
    "FieldDef",
    "FieldName",
    "FieldType",
    "FollowUp",
    "GeoPoint",
    "Ident",
    "IdentityFields",
    "JmesPath",
    "Locale",
    "Money",
    "Node",
    "NodeKind",
    "NodeName",
    "Number",
    "OpportunityOwner",
    "OpportunityRule",
    "Part",
    "Percent",
    "Phone",
    "Platform",
    "PositiveDecimal",
    "PriorityRule",
    "Rating",
    "Region",
    "Rounding",
    "SecretRef",
    "Share",
    "ShareRule",
    "ShopifyChannel",
    "SlaLevel",
    "SlaPolicy",
    "SsmName",
    "StandardWebhooksChannel",
    "Surcharge",
    "Technician",
    "TenantConfig",
    "TenantId",
    "TenantInfo",
    "Text",
    "TicketType",
    "TierRule",
    "TimeZoneName",
    "TypeName",
    "User",
    "WeComApp",
    "WeComChannel",
    "WeComUserId",
    "WebformChannel",
    "Weight",
    "WooCommerceChannel",
    "YouzanChannel",
    "business_days",
    "channel_secrets",
    "did_you_mean",
    "expand_days",
    "format_duration",
    "format_money",
    "parse_clock_range",
    "parse_decimal",
    "parse_duration",
    "parse_money",
    "parse_percent",
]
