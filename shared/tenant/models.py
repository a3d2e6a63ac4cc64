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
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)
from itertools import pairwise
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    field_validator,
    model_validator,
)

__all__ = [
    "BUILTIN_ROLES",
    "FIELD_TYPES",
    "NODE_KINDS",
    "PLATFORMS",
    "WEEKDAYS",
    "Assignee",
    "Calendar",
    "Catalog",
    "CatalogItem",
    "Channel",
    "ChannelRule",
    "Condition",
    "DispatchConfig",
    "FieldDef",
    "GeoPoint",
    "Node",
    "Part",
    "Region",
    "SecretRef",
    "ShareRule",
    "ShopifyChannel",
    "SlaLevel",
    "SlaPolicy",
    "StandardWebhooksChannel",
    "Surcharge",
    "Technician",
    "TenantConfig",
    "TenantInfo",
    "TicketType",
    "TierRule",
    "User",
    "WeComChannel",
    "WebformChannel",
    "WooCommerceChannel",
    "YouzanChannel",
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

BUILTIN_ROLES: frozenset[str] = frozenset(
    {"admin", "agent", "dispatcher", "supervisor", "finance", "technician"}
)
"""Roles that exist in every tenant, whether or not a user holds them."""

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

FieldType = Literal[
    "text",
    "number",
    "money",
    "select",
    "multiselect",
    "date",
    "datetime",
    "phone",
    "email",
    "region",
    "geo",
    "photos",
    "technician",
    "service_items",
    "parts",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)

NodeKind = Literal["human", "dispatch", "settlement", "create_ticket", "end"]
NODE_KINDS: tuple[str, ...] = get_args(NodeKind)

Platform = Literal["shopify", "woocommerce", "youzan", "wecom", "webform", "standard-webhooks"]
PLATFORMS: tuple[str, ...] = get_args(Platform)

DISPATCH_FACTORS: tuple[str, ...] = ("distance", "skill", "load", "rating", "fairness")

# --------------------------------------------------------------------------- helpers


def did_you_mean(value: str, choices: Any) -> str:
    """`" (did you mean 'x'?)"` when `value` looks like a typo of one of `choices`, else `""`."""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_DURATION_HELP = 'write a whole number and a unit (d, h, m, s), such as "30m", "2h", "1d" or "1h30m"'


def parse_duration(text: str) -> timedelta:
    """Read `"30m"`, `"2h"`, `"1d"`, `"1h30m"`, `"90s"` (units in the order d, h, m, s).

    Raises `ValueError` with a message that says how to write it. Zero is refused:
    every duration of the tenant file (SLA budgets, offer timeouts) must be positive.
    """
    if not isinstance(text, str):
        raise ValueError(f"{_show(text)} is not a duration; {_DURATION_HELP}")
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration; {_DURATION_HELP}")
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value <= timedelta(0):
        raise ValueError(f'{text!r} is zero; a duration must be longer than that, such as "1m"')
    return value


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back to `value` (whole seconds, > 0)."""
    total = int(value.total_seconds())
    if total <= 0 or total != value.total_seconds():
        raise ValueError(f"{value} is not a positive whole number of seconds")
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _check_duration(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_show(value)} is not a duration; {_DURATION_HELP}")
    parse_duration(value)
    return value.strip()


Duration = Annotated[str, BeforeValidator(_check_duration)]
"""A duration as written in the file (`"2h"`); `parse_duration` gives its `timedelta`."""

_BUSINESS_DAYS = re.compile(r"(\d+)bd")


def business_days(text: str) -> int | None:
    """`"2bd"` → 2 (business days: see `SlaPolicy`); None for any other duration."""
    match = _BUSINESS_DAYS.fullmatch(text.strip())
    return int(match.group(1)) if match else None


def _check_budget(value: object) -> str:
    if isinstance(value, str) and business_days(value) is not None:
        if business_days(value) == 0:
            raise ValueError(f'{value!r} is zero; a budget must be longer than that, such as "1bd"')
        return value.strip()
    try:
        return _check_duration(value)
    except ValueError as exc:
        raise ValueError(f'{exc}; or business days such as "2bd"') from None


Budget = Annotated[str, BeforeValidator(_check_budget)]
"""An SLA budget: a duration of business time (`"4h"`, `"2d"` = 48 business hours) or business days
(`"2bd"`: the same time of day two working days later)."""

# --------------------------------------------------------------------------- money and decimals

_MONEY = re.compile(r"-?\d+(?:\.\d{1,2})?")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


def _float_hint(value: float) -> str:
    exact = Decimal(repr(value))
    if exact.is_finite() and exact.as_tuple().exponent >= -2:  # type: ignore[operator]
        return f'"{exact:.2f}"'
    return "a decimal string with at most 2 decimals"


def parse_money(value: object) -> Decimal:
    """Money from a decimal string with at most 2 decimals (`"12.30"`), an int or a `Decimal`.

    Floats are refused: YAML `12.3` is a binary float, so the file must quote it.
    """
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a money amount; write a decimal string such as "12.30"')
    if isinstance(value, float):
        raise ValueError(
            f"{value!r} is a number, which is not exact enough for money; quote it as {_float_hint(value)}"
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError(f'{value} is not a money amount; use at most 2 decimals, such as "12.30"')
        return value
    if isinstance(value, str) and _MONEY.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError(
        f"{_show(value)} is not a money amount; write a decimal string with at most 2 decimals, "
        'such as "12.30"'
    )


def format_money(value: Decimal) -> str:
    """`Decimal("12.3")` → `"12.30"`: money as written in files and on the wire."""
    return f"{value:.2f}"


def _non_negative_money(value: object) -> Decimal:
    amount = parse_money(value)
    if amount < 0:
        raise ValueError(f"{format_money(amount)} is negative; money amounts here must be 0 or more")
    return amount


Money = Annotated[
    Decimal,
    BeforeValidator(_non_negative_money),
    PlainSerializer(format_money, return_type=str, when_used="json"),
]


def parse_decimal(value: object) -> Decimal:
    """A decimal from a string (`"0.35"`), an int, a `Decimal` or a float (read as written: `0.35`)."""
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a number; write a decimal such as "0.35"')
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f'{value} is not a number; write a decimal such as "0.35"')
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        try:
            number = Decimal(repr(value))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            raise ValueError(f'{value!r} is not a number; write a decimal such as "0.35"')
        return number
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError(f'{_show(value)} is not a number; write a decimal such as "0.35"')


def _decimal_text(value: Decimal) -> str:
    return f"{value:f}"


_DECIMAL_IN = BeforeValidator(parse_decimal)
_DECIMAL_OUT = PlainSerializer(_decimal_text, return_type=str, when_used="json")

Number = Annotated[Decimal, _DECIMAL_IN, _DECIMAL_OUT]
PositiveDecimal = Annotated[Decimal, _DECIMAL_IN, Field(gt=0), _DECIMAL_OUT]
Coefficient = PositiveDecimal
Rating = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=5), _DECIMAL_OUT]
Weight = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=1), _DECIMAL_OUT]
Percent = Annotated[Decimal, _DECIMAL_IN, Field(ge=0, le=100), _DECIMAL_OUT]

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def parse_percent(value: object) -> Decimal:
    """`"50%"` → `Decimal("50")` (percent of an SLA budget; more than 100 is allowed)."""
    match = _PERCENT.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f'{_show(value)} is not a percentage; write it like "50%"')
    share = Decimal(match.group(1))
    if share <= 0:
        raise ValueError(f"{value!r} is zero; a reminder level must be above 0%")
    return share


def _percent_text(value: Decimal) -> str:
    return f"{value:f}%"


Share = Annotated[
    Decimal,
    BeforeValidator(parse_percent),
    PlainSerializer(_percent_text, return_type=str, when_used="json"),
]

# --------------------------------------------------------------------------- strings with a format


def _matching(pattern: str, what: str, rule: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}; {rule}")
        return value

    return check


_IDENT_RULE = "use letters, digits, '-', '_' or '.', starting with a letter or digit (at most 64)"
Ident = Annotated[
    str, AfterValidator(_matching(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", "id or code", _IDENT_RULE))
]
TenantId = Annotated[
    str,
    AfterValidator(
        _matching(r"[a-z0-9-]{3,32}", "tenant id", "use 3 to 32 lowercase letters, digits or '-'")
    ),
]
TypeName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z0-9][A-Za-z0-9_\-]{0,39}",
            "ticket type name",
            "use letters, digits, '-' or '_', starting with a letter or digit (at most 40)",
        )
    ),
]
NodeName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z][A-Za-z0-9_\-]{0,63}",
            "name",
            "use letters, digits, '-' or '_', starting with a letter (at most 64)",
        )
    ),
]
FieldName = Annotated[
    str,
    AfterValidator(
        _matching(
            r"[A-Za-z_][A-Za-z0-9_]{0,63}",
            "field name",
            "use letters, digits or '_', starting with a letter or '_' (at most 64)",
        )
    ),
]
Text = Annotated[str, Field(min_length=1)]
Phone = Annotated[
    str,
    AfterValidator(
        _matching(r"\+[1-9]\d{6,14}", "phone number", 'write it in E.164 form, such as "+8613800000001"')
    ),
]
Email = Annotated[
    str,
    AfterValidator(_matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "email address", "write it like name@example.com")),
]
Currency = Annotated[
    str,
    AfterValidator(_matching(r"[A-Z]{3}", "currency", "use an ISO 4217 code such as CNY, EUR or USD")),
]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, available_timezones())
        raise ValueError(
            f"unknown time zone {name!r}{hint}; use an IANA name such as Asia/Shanghai or Europe/Berlin"
        ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_jmespath(expression: str) -> str:
    try:
        jmespath.compile(expression)
    except JMESPathError as exc:
        detail = str(exc).splitlines()[0].removesuffix(":").removesuffix(", for expression")
        raise ValueError(
            f"JMESPath expression {expression!r} does not compile ({detail}); "
            "check brackets and quotes (literals go in backticks, strings in single quotes)"
        ) from None
    return expression


JmesPath = Annotated[str, AfterValidator(_check_jmespath)]

_SSM_NAME = re.compile(r"/[A-Za-z0-9_.\-/]{1,1010}")


def _check_ssm_name(name: str) -> str:
    if not _SSM_NAME.fullmatch(name) or "//" in name:
        raise ValueError(
            f"{name!r} is not an SSM parameter name; write a path such as /scrm/<tenant>/<channel> "
            "(letters, digits, '_', '.', '-', '/')"
        )
    return name


SsmName = Annotated[str, AfterValidator(_check_ssm_name)]

# --------------------------------------------------------------------------- calendar times

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CLOCK_RANGE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))")


def parse_clock_range(text: str) -> tuple[int, int]:
    """`"09:00-12:00"` → `(540, 720)`: minutes since midnight; the end may be `24:00`."""
    match = _CLOCK_RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'{_show(text)} is not a time range; write it like "09:00-12:00"')
    sh, sm, eh, em, eh24, _ = match.groups()
    start = int(sh) * 60 + int(sm)
    end = 24 * 60 if eh24 else int(eh) * 60 + int(em)
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts; write the earlier time first")
    return start, end


def _check_clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError(f'{value!r} is not a time of day; write it like "20:00"')
    return value


ClockTime = Annotated[str, AfterValidator(_check_clock)]


def expand_days(key: str) -> list[int]:
    """`"mon-fri"` → `[0, 1, 2, 3, 4]`; also `"sat"` and lists such as `"mon,wed-fri"` (0 = Monday)."""
    days: list[int] = []
    for part in key.split(","):
        first, _, last = part.strip().partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(
                f"{key!r} is not a day or range of days{did_you_mean(part.strip(), WEEKDAYS)}; "
                "use mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, or a list such as sat,sun"
            )
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if last else start
        if end < start:
            raise ValueError(f"{key!r} runs backwards; write the range from Monday on, such as mon-fri")
        days.extend(range(start, end + 1))
    return days


# --------------------------------------------------------------------------- base


class _Model(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import; a function
    # that decodes a tenant configuration pays for it on its first event, not on every cold start
    # (code that only imports these models for types pays nothing).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --------------------------------------------------------------------------- tenant, regions, people


Locale = Literal["zh-CN", "en"]
CHINESE_TIMEZONES = frozenset(
    {
        "Asia/Shanghai",
        "Asia/Chongqing",
        "Asia/Harbin",
        "Asia/Urumqi",
        "Asia/Hong_Kong",
        "Asia/Macau",
        "Asia/Taipei",
    }
)


class TenantInfo(_Model):
    id: TenantId
    name: Text
    timezone: TimeZoneName
    currency: Currency
    locale: Locale | None = None
    """Language of messages to people (SMS, email): `zh-CN` or `en`. Default: `zh-CN` for a tenant
    in a Chinese time zone, else `en`. A user or technician may have their own `locale`."""

    @property
    def default_locale(self) -> str:
        if self.locale is not None:
            return self.locale
        return "zh-CN" if self.timezone in CHINESE_TIMEZONES else "en"


class Region(_Model):
    model_config = ConfigDict(populate_by_name=True)

    code: Ident
    name: Text
    region_class: Ident = Field(alias="class")
    coefficient: Coefficient = Decimal("1.00")


class Calendar(_Model):
    timezone: TimeZoneName
    working_hours: dict[str, list[str]]
    holidays: str | None = None
    """Country (`CN`) or country-subdivision (`DE-BE`) whose public holidays are closed."""
    days_off: list[date] = []
    workdays: list[date] = []
    """Extra working days (调休); they use the Monday-to-Friday hours."""

    @field_validator("working_hours")
    @classmethod
    def _check_hours(cls, hours: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[int, str] = {}
        for key, ranges in hours.items():
            for day in expand_days(key):
                if day in owner:
                    raise ValueError(
                        f"{WEEKDAYS[day]} is covered by both {owner[day]!r} and {key!r}; list each day once"
                    )
                owner[day] = key
            spans = sorted(parse_clock_range(text) for text in ranges)
            for (_, end), (start, _) in pairwise(spans):
                if start < end:
                    raise ValueError(f"the hours of {key!r} overlap; make the ranges not overlap")
        return hours

    def opening_minutes(self) -> dict[int, list[tuple[int, int]]]:
        """Weekday (0 = Monday) → sorted open ranges in minutes since midnight; closed days are `[]`."""
        week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
        for key, ranges in self.working_hours.items():
            spans = sorted(parse_clock_range(text) for text in ranges)
            for day in expand_days(key):
                week[day] = spans
        return week


class User(_Model):
    id: Ident
    name: Text
    roles: list[Ident] = []
    email: Email | None = None
    phone: Phone | None = None
    department: Ident | None = None
    locale: Locale | None = None


class GeoPoint(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Technician(_Model):
    id: Ident
    name: Text
    phone: Phone
    email: Email | None = None
    partner_type: Literal["direct", "dealer"]
    regions: list[Ident] = Field(min_length=1)
    location: GeoPoint | None = None
    skills: dict[Ident, Annotated[int, Field(ge=1)]] = {}
    capacity: int = Field(ge=1)
    """Open tickets the technician may hold at once."""
    rating: Rating
    calendar: str | None = None
    supervisor: str | None = None
    """A user id."""
    locale: Locale | None = None


# --------------------------------------------------------------------------- catalog


class CatalogItem(_Model):
    """A service item of the project library (项目库): settlement price per unit and tier."""

    code: Ident
    name: Text
    unit: Text
    price: dict[str, Money]


class Part(_Model):
    """A part of the parts library (备件库)."""

    sku: Ident
    name: Text
    unit: Text
    price: dict[str, Money]


class Condition(_Model):
    """The `when:` of tier rules, surcharges and installer shares; every key given must match."""

    region: str | None = None
    region_class: str | None = None
    partner_type: Literal["direct", "dealer"] | None = None
    ticket_type: str | None = None
    priority: str | None = None
    channel: str | None = None
    completed_between: tuple[ClockTime, ClockTime] | None = None
    """Local time window `[from, to)`; it may wrap midnight (`["20:00", "08:00"]`)."""

    def is_catch_all(self) -> bool:
        return not self.model_dump(exclude_none=True)


class TierRule(_Model):
    when: Condition = Field(default_factory=Condition)
    tier: str


class Surcharge(_Model):
    code: Ident
    when: Condition = Field(default_factory=Condition)
    percent: Percent | None = None
    fixed: Money | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> Surcharge:
        if (self.percent is None) == (self.fixed is None):
            raise ValueError("give exactly one of 'percent' or 'fixed'")
        return self


class ShareRule(_Model):
    when: Condition = Field(default_factory=Condition)
    percent: Percent


Rounding = Literal["half_up", "half_even", "half_down", "up", "down", "ceiling", "floor"]
_ROUNDING_MODES: Mapping[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "half_down": ROUND_HALF_DOWN,
    "up": ROUND_UP,
    "down": ROUND_DOWN,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
}


class Catalog(_Model):
    version: Text
    tiers: list[Ident] = Field(min_length=1)
    service_items: list[CatalogItem] = []
    parts: list[Part] = []
    tier_rules: list[TierRule] = []
    """First match wins."""
    surcharges: list[Surcharge] = []
    """Applied to the settled subtotal, in this order."""
    installer_share: list[ShareRule] = []
    """First match wins."""
    rounding: Rounding = "half_up"

    @property
    def rounding_mode(self) -> str:
        """The `decimal` rounding constant (e.g. `ROUND_HALF_UP`) for `rounding`."""
        return _ROUNDING_MODES[self.rounding]

    def item(self, code: str) -> CatalogItem | None:
        return next((item for item in self.service_items if item.code == code), None)

    def part(self, sku: str) -> Part | None:
        return next((part for part in self.parts if part.sku == sku), None)


# --------------------------------------------------------------------------- SLA and dispatch

_RECIPIENT = re.compile(r"assignee|supervisor|(role|user):[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def _check_recipient(value: str) -> str:
    if not _RECIPIENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a recipient; use assignee, supervisor, role:<role> or user:<user id>"
        )
    return value


class SlaLevel(_Model):
    name: Ident
    at: Share
    """Percent of the node's budget (`"50%"` → `Decimal("50")`)."""
    notify: list[Annotated[str, AfterValidator(_check_recipient)]] = Field(min_length=1)
    channels: list[Literal["sms", "email"]] = Field(min_length=1)


class SlaPolicy(_Model):
    calendar: str
    targets: dict[str, dict[str, Budget]] = {}
    """Node → priority → business-time budget (`"4h"`) or business days (`"2bd"`)."""
    levels: list[SlaLevel] = []
    pause_on_nodes: list[str] = []

    def budget(self, node: str, priority: str) -> timedelta | None:
        """The business-time budget of `node` for `priority`, if the policy sets one as a duration.

        A budget in business days (`"2bd"`) depends on when the clock starts: `budget_days`."""
        text = self.targets.get(node, {}).get(priority)
        if text is None or business_days(text) is not None:
            return None
        return parse_duration(text)

    def budget_days(self, node: str, priority: str) -> int | None:
        """Business days of `node` for `priority` when the policy counts in days (`"2bd"`)."""
        text = self.targets.get(node, {}).get(priority)
        return business_days(text) if text is not None else None

    def has_budget(self, node: str, priority: str) -> bool:
        return self.targets.get(node, {}).get(priority) is not None


def _default_weights() -> dict[str, Decimal]:
    return {
        "distance": Decimal("0.35"),
        "skill": Decimal("0.25"),
        "load": Decimal("0.20"),
        "rating": Decimal("0.10"),
        "fairness": Decimal("0.10"),
    }


class DispatchConfig(_Model):
    weights: dict[str, Weight] = Field(default_factory=_default_weights)
    max_distance_km: PositiveDecimal = Decimal(80)
    offer_timeout: Duration = "30m"

    @field_validator("weights")
    @classmethod
    def _known_factors(cls, weights: dict[str, Decimal]) -> dict[str, Decimal]:
        for name in weights:
            if name not in DISPATCH_FACTORS:
                raise ValueError(
                    f"unknown dispatch factor {name!r}{did_you_mean(name, DISPATCH_FACTORS)}; "
                    f"use {', '.join(DISPATCH_FACTORS)}"
                )
        return weights

    @property
    def offer_timeout_delta(self) -> timedelta:
        return parse_duration(self.offer_timeout)


# --------------------------------------------------------------------------- ticket types


class FieldDef(_Model):
    name: FieldName
    type: FieldType
    required: bool = False
    options: list[str] | None = None
    """The choices of `select` and `multiselect`."""
    min: Number | None = None
    """Smallest value (`number`, `money`) or count (`photos`, `multiselect`, lists) or length (`text`)."""
    max: Number | None = None
    max_quantity: Number | None = None
    """`service_items` / `parts`: the largest quantity of one line (default 10000)."""
    default: JsonValue = None
    label: str | None = None

    @model_validator(mode="after")
    def _check(self) -> FieldDef:
        choosing = self.type in ("select", "multiselect")
        if choosing and not self.options:
            raise ValueError(f"a {self.type} field needs 'options', the list of choices")
        if not choosing and self.options is not None:
            raise ValueError(f"'options' only applies to select and multiselect, not {self.type}")
        if self.options is not None and len(set(self.options)) != len(self.options):
            raise ValueError("'options' lists a choice twice; list each choice once")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is larger than 'max' ({self.max})")
        if self.type == "select" and self.default is not None and self.default not in (self.options or []):
            raise ValueError(f"default {self.default!r} is not one of the options {self.options}")
        return self


class Assignee(_Model):
    """Who works a human node: exactly one of a user, a role, a department or a technician.

    `technician: assigned` means the technician the ticket was dispatched to.
    """

    user: str | None = None
    role: str | None = None
    department: str | None = None
    technician: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Assignee:
        given = [key for key, value in self.model_dump().items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of user, role, department or technician "
                f"(got {', '.join(given) or 'none'}), e.g. {{role: agent}} or {{technician: assigned}}"
            )
        return self

    @property
    def is_dispatched_technician(self) -> bool:
        return self.technician == "assigned"


_KIND_KEYS: Mapping[str, frozenset[str]] = {
    "human": frozenset({"assignee", "form", "actions"}),
    "dispatch": frozenset({"skills", "next", "on_no_candidate"}),
    "settlement": frozenset({"next"}),
    "create_ticket": frozenset({"ticket_type", "next"}),
    "end": frozenset(),
}


class Node(_Model):
    """One node of a ticket type's workflow.

    - `human`: `assignee`, optional `form`, at least one action (action name → node);
    - `dispatch`: picks a technician by `skills`, then `next`; `on_no_candidate` when nobody fits;
    - `settlement`: prices the ticket, then `next`;
    - `create_ticket`: opens a linked ticket of `ticket_type`, then `next`;
    - `end`: the ticket is finished; no way out.
    """

    kind: NodeKind
    assignee: Assignee | None = None
    form: list[FieldDef] = []
    actions: dict[NodeName, NodeName] = {}
    next: NodeName | None = None
    on_no_candidate: NodeName | None = None
    skills: dict[Ident, Annotated[int, Field(ge=1)]] = {}
    ticket_type: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> Node:
        allowed = _KIND_KEYS[self.kind]
        # "given" means a non-empty value, so a dump that writes every key reads back the same.
        misplaced = [
            key for key in sorted(_ALL_KIND_KEYS - allowed) if getattr(self, key) not in (None, {}, [])
        ]
        if misplaced:
            keys = ", ".join(repr(key) for key in misplaced)
            fit = ", ".join(sorted(allowed)) or "nothing but 'kind'"
            raise ValueError(f"{_a(self.kind)} node does not take {keys}; it takes {fit}")
        if self.kind == "human":
            if self.assignee is None:
                raise ValueError("a human node needs 'assignee', e.g. {role: agent}")
            if not self.actions:
                raise ValueError("a human node needs at least one action under 'actions' (name: next node)")
        if self.kind in ("dispatch", "settlement", "create_ticket") and self.next is None:
            raise ValueError(f"{_a(self.kind)} node needs 'next', the node that follows it")
        if self.kind == "create_ticket" and self.ticket_type is None:
            raise ValueError("a create_ticket node needs 'ticket_type', the type of ticket it opens")
        return self

    def targets(self) -> dict[str, str]:
        """Every way out of the node: action name, `"next"` or `"on_no_candidate"` → node name."""
        edges = dict(self.actions)
        if self.next is not None:
            edges["next"] = self.next
        if self.on_no_candidate is not None:
            edges["on_no_candidate"] = self.on_no_candidate
        return edges


_ALL_KIND_KEYS: frozenset[str] = frozenset().union(*_KIND_KEYS.values())


class TicketType(_Model):
    name: Text
    sla: str | None = None
    """Name of an SLA policy."""
    fields: list[FieldDef] = []
    """Filled when the ticket is created."""
    start: NodeName
    nodes: dict[NodeName, Node] = Field(min_length=1)

    def field(self, name: str) -> FieldDef | None:
        return next((field for field in self.fields if field.name == name), None)

    def field_of_type(self, kind: str, preferred: str | None = None) -> str | None:
        """The name of the ticket's field of type `kind` (the one called `preferred` if it has that
        type, else the first in file order): a region field may be called `area` or `城市`."""
        if preferred is not None and (spec := self.field(preferred)) is not None and spec.type == kind:
            return preferred
        return next((f.name for f in self.fields if f.type == kind), None)


# --------------------------------------------------------------------------- channels


class SecretRef(_Model):
    """Where a secret lives; the file never holds the value."""

    ssm: SsmName


class ChannelRule(_Model):
    """Turns a delivery into a ticket when every `when` entry matches (first rule wins).

    `when` keys compare the delivery's topic/type (`topic`, `type`, `status`, ...)
    with the given value, except `match`, a JMESPath expression on the body that
    must be truthy. `fields` maps ticket field → JMESPath into the body.
    """

    when: dict[str, str] = {}
    ticket_type: str
    fields: dict[FieldName, JmesPath] = {}

    @field_validator("when")
    @classmethod
    def _match_compiles(cls, when: dict[str, str]) -> dict[str, str]:
        if "match" in when:
            _check_jmespath(when["match"])
        return when


class _Channel(_Model):
    id: Ident


class _RuleChannel(_Channel):
    rules: list[ChannelRule] = Field(min_length=1)


class ShopifyChannel(_RuleChannel):
    platform: Literal["shopify"]
    secret: SecretRef


class WooCommerceChannel(_RuleChannel):
    platform: Literal["woocommerce"]
    secret: SecretRef


class YouzanChannel(_RuleChannel):
    platform: Literal["youzan"]
    client_id: Text
    secret: SecretRef


class WeComChannel(_RuleChannel):
    platform: Literal["wecom"]
    corp_id: Text
    token: SecretRef
    aes_key: SecretRef


class WebformChannel(_Channel):
    """Posts the ticket's fields as they are; no rules, no secret."""

    platform: Literal["webform"]
    ticket_type: str


class StandardWebhooksChannel(_RuleChannel):
    platform: Literal["standard-webhooks"]
    secret: SecretRef


Channel = Annotated[
    ShopifyChannel
    | WooCommerceChannel
    | YouzanChannel
    | WeComChannel
    | WebformChannel
    | StandardWebhooksChannel,
    Field(discriminator="platform"),
]


def channel_secrets(channel: Channel) -> dict[str, SecretRef]:
    """The channel's secret references by key (`secret`, `token`, `aes_key`)."""
    return {
        name: value
        for name in ("secret", "token", "aes_key")
        if isinstance(value := getattr(channel, name, None), SecretRef)
    }


# --------------------------------------------------------------------------- the file


class TenantConfig(_Model):
    """One tenant file. Cross-references are checked by `shared.tenant.validate`."""

    tenant: TenantInfo
    regions: list[Region]
    calendars: dict[Ident, Calendar] = {}
    users: list[User] = []
    technicians: list[Technician] = []
    catalog: Catalog
    sla_policies: dict[Ident, SlaPolicy] = {}
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    ticket_types: dict[TypeName, TicketType]
    channels: list[Channel] = []

    def region(self, code: str) -> Region | None:
        return next((region for region in self.regions if region.code == code), None)

    def user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.id == user_id), None)

    def technician(self, technician_id: str) -> Technician | None:
        return next((tech for tech in self.technicians if tech.id == technician_id), None)

    def channel(self, channel_id: str) -> Channel | None:
        return next((channel for channel in self.channels if channel.id == channel_id), None)

    def roles(self) -> set[str]:
        """Built-in roles and every role a user holds."""
        return set(BUILTIN_ROLES).union(*(user.roles for user in self.users))

    def secret_refs(self) -> dict[str, str]:
        """SSM name → the channel that uses it."""
        return {ref.ssm: channel.id for channel in self.channels for ref in channel_secrets(channel).values()}
