"""The tenant file models: formats, per-kind node rules, round trips."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.tenant.models import (
    Assignee,
    Calendar,
    FieldDef,
    Node,
    SlaLevel,
    TenantConfig,
    expand_days,
    format_duration,
    format_money,
    parse_decimal,
    parse_duration,
    parse_money,
    parse_percent,
)
from tests.factories import channel, end_node, human, load_example, tenant_dict


def _messages(exc: ValidationError) -> str:
    return " | ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


# --------------------------------------------------------------------------- whole files


@pytest.mark.parametrize("name", ["acme-home", "bright-clean"])
def test_examples_parse(name: str) -> None:
    cfg = TenantConfig.model_validate(load_example(name))

    assert cfg.tenant.id == name
    assert cfg.ticket_types


@pytest.mark.parametrize("data", [load_example("acme-home"), load_example("bright-clean"), tenant_dict()])
def test_round_trip_through_json(data: dict[str, Any]) -> None:
    # Given a parsed tenant file
    cfg = TenantConfig.model_validate(data)
    # When it is dumped the way the tenant stack ships it, then read back
    again = TenantConfig.model_validate(cfg.model_dump(mode="json", by_alias=True))
    # Then nothing is lost
    assert again == cfg


def test_acme_home_values() -> None:
    cfg = TenantConfig.model_validate(load_example("acme-home"))

    assert cfg.regions[0].region_class == "tier1"
    assert cfg.regions[0].coefficient == Decimal("1.20")
    assert cfg.catalog.service_items[0].price["T3"] == Decimal("120.00")
    assert cfg.catalog.rounding_mode == ROUND_HALF_UP
    assert cfg.sla_policies["install-standard"].levels[0].at == Decimal(50)
    assert cfg.sla_policies["install-standard"].budget("on_site", "urgent") == timedelta(hours=4)
    assert cfg.sla_policies["install-standard"].budget("on_site", "whatever") is None
    assert cfg.dispatch.offer_timeout_delta == timedelta(minutes=30)
    wang = cfg.technician("t-wang")
    assert wang is not None and wang.location is not None and wang.location.lat == pytest.approx(39.9042)
    assert cfg.roles() >= {"agent", "supervisor", "dispatcher", "finance", "admin"}
    assert cfg.secret_refs()["/scrm/acme-home/wecom-aes-key"] == "wecom-service"
    assert cfg.calendars["default"].days_off[0].isoformat() == "2026-12-31"


def test_json_dump_writes_money_and_shares_as_strings() -> None:
    dumped = TenantConfig.model_validate(load_example("acme-home")).model_dump(mode="json", by_alias=True)

    assert dumped["regions"][0]["class"] == "tier1"
    assert dumped["catalog"]["service_items"][0]["price"]["T1"] == "200.00"
    assert dumped["sla_policies"]["install-standard"]["levels"][0]["at"] == "50%"
    assert dumped["dispatch"]["weights"]["distance"] == "0.35"


def test_models_are_frozen() -> None:
    cfg = TenantConfig.model_validate(tenant_dict())

    with pytest.raises(ValidationError):
        cfg.tenant.name = "Other"  # type: ignore[misc]


def test_unknown_key_is_refused_by_name() -> None:
    data = tenant_dict()
    data["technicians"][0]["skils"] = {"repair": 1}

    with pytest.raises(ValidationError) as caught:
        TenantConfig.model_validate(data)

    assert "technicians.0.skils: Extra inputs are not permitted" in _messages(caught.value)


def test_optional_sections_may_be_left_out() -> None:
    data = tenant_dict()
    for section in ("calendars", "users", "technicians", "sla_policies", "dispatch", "channels"):
        del data[section]
    data["ticket_types"]["repair"]["sla"] = None

    cfg = TenantConfig.model_validate(data)

    assert cfg.channels == [] and cfg.dispatch.weights["distance"] == Decimal("0.35")


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2d4h", timedelta(days=2, hours=4)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2 hours", "", "h", "30", "1.5h", "30m1h", "-1h", "0m", "1w"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


@given(
    days=st.integers(0, 400),
    hours=st.integers(0, 99),
    minutes=st.integers(0, 999),
    seconds=st.integers(0, 99),
)
def test_parse_duration_reads_every_unit_combination(
    days: int, hours: int, minutes: int, seconds: int
) -> None:
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{amount}{unit}" for amount, unit in parts if amount)
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not text:
        return

    assert parse_duration(text) == expected


@given(st.integers(min_value=1, max_value=10**8).map(lambda s: timedelta(seconds=s)))
def test_format_duration_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.text(max_size=12))
def test_parse_duration_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert parse_duration(text) > timedelta(0)


# --------------------------------------------------------------------------- money and numbers


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.30", Decimal("12.30")), ("0", Decimal(0)), ("7.5", Decimal("7.5")), (50, Decimal(50))],
)
def test_parse_money(value: object, expected: Decimal) -> None:
    assert parse_money(value) == expected


def test_money_float_is_refused_with_the_quoted_form() -> None:
    with pytest.raises(ValueError, match=re.escape('quote it as "12.30"')):
        parse_money(12.3)


@pytest.mark.parametrize("value", ["12.345", "1,200.00", "12.", ".5", "abc", "", True, None, [1]])
def test_parse_money_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="money"):
        parse_money(value)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_money_round_trips_through_its_text(amount: Decimal) -> None:
    assert parse_money(format_money(amount)) == amount


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=3, max_value=6))
def test_money_with_more_than_two_decimals_is_refused(units: int, places: int) -> None:
    text = f"{units}." + "1" * places
    with pytest.raises(ValueError, match="at most 2 decimals"):
        parse_money(text)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_money_never_accepts_a_float(value: float) -> None:
    with pytest.raises(ValueError):
        parse_money(value)


@given(st.text(max_size=12))
def test_parse_money_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert isinstance(parse_money(text), Decimal)


def test_negative_money_is_refused_in_prices() -> None:
    data = tenant_dict()
    data["catalog"]["service_items"][0]["price"]["T1"] = "-1.00"

    with pytest.raises(ValidationError, match="negative"):
        TenantConfig.model_validate(data)


def test_parse_decimal_reads_floats_as_written() -> None:
    assert parse_decimal(0.35) == Decimal("0.35")
    assert parse_decimal("1.20") == Decimal("1.20")
    with pytest.raises(ValueError):
        parse_decimal("1e5")


def test_parse_percent() -> None:
    assert parse_percent("80%") == Decimal(80)
    assert parse_percent("150%") == Decimal(150)
    for bad in ("80", 80, "0%", "x%"):
        with pytest.raises(ValueError):
            parse_percent(bad)


# --------------------------------------------------------------------------- nodes, fields, calendars


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"kind": "human", "actions": {"ok": "x"}}, "needs 'assignee'"),
        ({"kind": "human", "assignee": {"role": "agent"}}, "at least one action"),
        ({"kind": "dispatch"}, "needs 'next'"),
        ({"kind": "settlement"}, "needs 'next'"),
        ({"kind": "create_ticket", "next": "x"}, "needs 'ticket_type'"),
        ({"kind": "end", "next": "x"}, "does not take 'next'"),
        ({"kind": "settlement", "next": "x", "actions": {"a": "b"}}, "does not take 'actions'"),
        ({**human({"a": "b"}), "next": "c"}, "does not take 'next'"),
        ({"kind": "waiting"}, "Input should be"),
    ],
)
def test_node_kind_rules(node: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Node.model_validate(node)


def test_node_targets_lists_every_edge() -> None:
    dispatch = Node.model_validate({"kind": "dispatch", "next": "on_site", "on_no_candidate": "manual"})
    person = Node.model_validate(human({"done": "review", "redo": "on_site"}))

    assert dispatch.targets() == {"next": "on_site", "on_no_candidate": "manual"}
    assert person.targets() == {"done": "review", "redo": "on_site"}
    assert Node.model_validate(end_node()).targets() == {}


@pytest.mark.parametrize("assignee", [{}, {"role": "agent", "user": "u-1"}])
def test_assignee_needs_exactly_one(assignee: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Assignee.model_validate(assignee)


def test_assignee_assigned_technician() -> None:
    assert Assignee(technician="assigned").is_dispatched_technician


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "p", "type": "select"}, "needs 'options'"),
        ({"name": "p", "type": "text", "options": ["a"]}, "only applies"),
        ({"name": "p", "type": "select", "options": ["a"], "default": "b"}, "not one of the options"),
        ({"name": "p", "type": "number", "min": 5, "max": 1}, "larger than 'max'"),
        ({"name": "p", "type": "adress"}, "Input should be"),
        ({"name": "bad name", "type": "text"}, "not a valid field name"),
    ],
)
def test_field_rules(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FieldDef.model_validate(spec)


def test_calendar_opening_minutes() -> None:
    cal = Calendar.model_validate(
        {
            "timezone": "Europe/Berlin",
            "working_hours": {"mon-fri": ["13:00-18:00", "09:00-12:00"], "sat,sun": []},
        }
    )

    week = cal.opening_minutes()

    assert week[0] == [(540, 720), (780, 1080)] and week[4] == week[0]
    assert week[5] == [] and week[6] == []


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon-fri": ["09:00-18:00"], "fri": ["09:00-12:00"]}, "fri is covered by both"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "overlap"),
        ({"mon": ["18:00-09:00"]}, "ends before it starts"),
        ({"mon": ["9-12"]}, "not a time range"),
        ({"fri-mon": ["09:00-12:00"]}, "runs backwards"),
        ({"monday": ["09:00-12:00"]}, "did you mean 'mon'"),
    ],
)
def test_calendar_hours_rules(hours: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Calendar.model_validate({"timezone": "Asia/Shanghai", "working_hours": hours})


def test_expand_days() -> None:
    assert expand_days("mon-wed,sat") == [0, 1, 2, 5]


def test_unknown_timezone_suggests_the_right_one() -> None:
    with pytest.raises(ValidationError, match="did you mean 'Asia/Shanghai'"):
        Calendar.model_validate({"timezone": "Asia/Shangai", "working_hours": {}})


def test_sla_level_recipients() -> None:
    level = SlaLevel.model_validate(
        {"name": "red", "at": "100%", "notify": ["role:dispatcher", "user:u-1"], "channels": ["sms"]}
    )
    assert level.at == Decimal(100)
    with pytest.raises(ValidationError, match="not a recipient"):
        SlaLevel.model_validate({"name": "red", "at": "100%", "notify": ["boss"], "channels": ["sms"]})


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize(
    "platform", ["shopify", "woocommerce", "youzan", "wecom", "webform", "standard-webhooks"]
)
def test_every_platform_parses(platform: str) -> None:
    cfg = TenantConfig.model_validate(tenant_dict(channels=[channel(platform)]))

    assert cfg.channels[0].platform == platform


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValidationError, match="shopfy"):
        TenantConfig.model_validate(tenant_dict(channels=[channel("shopify") | {"platform": "shopfy"}]))


def test_rule_expressions_must_compile() -> None:
    bad = channel("shopify")
    bad["rules"][0]["fields"]["customer_name"] = "customer.[name"

    with pytest.raises(ValidationError, match="does not compile"):
        TenantConfig.model_validate(tenant_dict(channels=[bad]))


def test_wecom_secrets_are_references() -> None:
    cfg = TenantConfig.model_validate(tenant_dict(channels=[channel("wecom", "wc")]))

    assert set(cfg.secret_refs()) == {"/scrm/test-co/wc", "/scrm/test-co/wc-aes"}
