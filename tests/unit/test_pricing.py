"""Settlement pricing: hand-computed settlements of the example tenant, rounding, errors, properties.

The example catalog (`examples/tenants/acme-home.yaml`): tiers T1 (tier1 region + direct
technician), T2 (other tier1), T3 (everything else); surcharges urgent 30%, night 20%
(completed 20:00-08:00 Asia/Shanghai), remote 50.00 (tier3 regions); installers earn 60%
(direct) or 85% (dealer) of the total. Regions: CN-BJ tier1 ×1.20, CN-SH tier1 ×1.15,
CN-CD tier2 ×1.00, CN-MY tier3 ×0.90.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import shared.tenant
from functions.settlement.pricing import (
    PricingError,
    PricingInput,
    Settlement,
    in_window,
    minor_unit,
    price,
)
from shared.tenant.models import Catalog, Region, TenantConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = Decimal


def load_example() -> TenantConfig:
    """The example tenant, through `shared.tenant.load_tenant_file` once that exists."""
    loader = getattr(shared.tenant, "load_tenant_file", None)
    if loader is not None:
        config: TenantConfig = loader(str(EXAMPLE))
        return config
    return TenantConfig.model_validate(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))


TENANT = load_example()
DAYTIME = datetime(2026, 11, 3, 14, 0, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- factories


def example_input(**overrides: Any) -> PricingInput:
    """A ticket of the example tenant: CN-BJ, direct technician, install, normal priority, done at 14:00."""
    values: dict[str, Any] = {
        "region": "CN-BJ",
        "partner_type": "direct",
        "ticket_type": "install",
        "priority": "normal",
        "completed_at": DAYTIME,
    }
    values.update(overrides)
    return PricingInput.from_tenant(TENANT, **values)


def items(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"code": code, "quantity": quantity} for code, quantity in pairs]


def parts(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": quantity} for sku, quantity in pairs]


def make_catalog(**overrides: Any) -> Catalog:
    """A one-tier catalog with one service item `X` (price 1.00) and no rules but a catch-all tier."""
    data: dict[str, Any] = {
        "version": "test",
        "tiers": ["T1"],
        "service_items": [{"code": "X", "name": "x", "unit": "pc", "price": {"T1": "1.00"}}],
        "parts": [],
        "tier_rules": [{"when": {}, "tier": "T1"}],
        "surcharges": [],
        "installer_share": [{"when": {}, "percent": "50"}],
    }
    data.update(overrides)
    return Catalog.model_validate(data)


def custom_input(catalog: Catalog, coefficient: str = "1.00", **overrides: Any) -> PricingInput:
    """A ticket priced with `catalog` in region R (class c, `coefficient`), CNY, Asia/Shanghai."""
    values: dict[str, Any] = {
        "catalog": catalog,
        "regions": [
            Region.model_validate({"code": "R", "name": "r", "class": "c", "coefficient": coefficient})
        ],
        "region": "R",
        "partner_type": "direct",
        "completed_at": DAYTIME,
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
    }
    values.update(overrides)
    return PricingInput.model_validate(values)


def unit_price_item(price_text: str) -> list[dict[str, Any]]:
    return [{"code": "X", "name": "x", "unit": "pc", "price": {"T1": price_text}}]


# --------------------------------------------------------------------------- the example tenant


def test_beijing_direct_urgent_night_ticket() -> None:
    # Given an urgent Beijing install by a direct technician, finished at 23:30 Shanghai time
    data = example_input(
        priority="urgent",
        completed_at=datetime(2026, 11, 3, 23, 30, tzinfo=SHANGHAI),
        service_items=items(("SVC-AC-INSTALL", 1)),
        parts=parts(("PRT-BRACKET", "2")),
    )
    # When it is priced
    settlement = price(data)
    # Then: tier T1; 200.00 × 1 × 1.20 = 240.00; 80.00 × 2 × 1.20 = 192.00; subtotal 432.00;
    # urgent 30% = 129.60; night 20% = 86.40; total 648.00; the direct technician earns 60% = 388.80
    assert settlement.tier == "T1"
    assert [(line.code, line.kind, line.amount) for line in settlement.lines] == [
        ("SVC-AC-INSTALL", "service_item", D("240.00")),
        ("PRT-BRACKET", "part", D("192.00")),
    ]
    assert settlement.subtotal == D("432.00")
    assert [(s.code, s.basis, s.percent, s.amount) for s in settlement.surcharges] == [
        ("urgent", "percent", D("30"), D("129.60")),
        ("night", "percent", D("20"), D("86.40")),
    ]
    assert settlement.total == D("648.00")
    assert settlement.installer_share_percent == D("60")
    assert settlement.installer_earnings == D("388.80")
    assert (settlement.catalog_version, settlement.currency) == ("2026-11", "CNY")


def test_lines_carry_what_they_were_priced_with() -> None:
    settlement = price(example_input(parts=parts(("PRT-BRACKET", "2"))))
    (line,) = settlement.lines
    assert line.model_dump() == {
        "code": "PRT-BRACKET",
        "kind": "part",
        "name": "支架",
        "unit": "套",
        "unit_price": D("80.00"),
        "quantity": D("2"),
        "coefficient": D("1.20"),
        "amount": D("192.00"),
    }


def test_mianyang_dealer_is_tier3_with_the_remote_surcharge() -> None:
    # Given a daytime, normal-priority repair in Mianyang (tier3, ×0.90) by a dealer
    data = example_input(
        region="CN-MY",
        partner_type="dealer",
        service_items=items(("SVC-AC-REPAIR", "1")),
        parts=parts(("PRT-COPPER-PIPE", "3.5")),
    )
    settlement = price(data)
    # Then: T3; 90.00 × 0.90 = 81.00; 35.00 × 3.5 × 0.90 = 110.25; subtotal 191.25;
    # remote fixed 50.00; total 241.25; the dealer earns 85% = 205.0625 → 205.06
    assert settlement.tier == "T3"
    assert [line.amount for line in settlement.lines] == [D("81.00"), D("110.25")]
    assert settlement.subtotal == D("191.25")
    assert [(s.code, s.basis, s.percent, s.amount) for s in settlement.surcharges] == [
        ("remote", "fixed", None, D("50.00"))
    ]
    assert settlement.total == D("241.25")
    assert settlement.installer_share_percent == D("85")
    assert settlement.installer_earnings == D("205.06")


def test_surcharges_apply_in_file_order_each_on_the_subtotal() -> None:
    # Given the same Mianyang ticket, urgent, finished at 21:00
    data = example_input(
        region="CN-MY",
        partner_type="dealer",
        priority="urgent",
        completed_at=datetime(2026, 11, 3, 21, 0, tzinfo=SHANGHAI),
        service_items=items(("SVC-AC-REPAIR", "1")),
        parts=parts(("PRT-COPPER-PIPE", "3.5")),
    )
    settlement = price(data)
    # Then urgent 30% of 191.25 = 57.375 → 57.38 (half up); night 20% of 191.25 (not of 248.63) = 38.25;
    # remote 50.00; total 336.88; 85% = 286.348 → 286.35
    assert [(s.code, s.amount) for s in settlement.surcharges] == [
        ("urgent", D("57.38")),
        ("night", D("38.25")),
        ("remote", D("50.00")),
    ]
    assert settlement.total == D("336.88")
    assert settlement.installer_earnings == D("286.35")


@pytest.mark.parametrize(
    ("region", "partner_type", "tier", "amount"),
    [
        ("CN-BJ", "direct", "T1", D("60.00")),  # 50.00 × 1.20
        ("CN-BJ", "dealer", "T2", D("48.00")),  # 40.00 × 1.20
        ("CN-SH", "direct", "T1", D("57.50")),  # 50.00 × 1.15
        ("CN-SH", "dealer", "T2", D("46.00")),  # 40.00 × 1.15
        ("CN-CD", "direct", "T3", D("30.00")),  # 30.00 × 1.00
        ("CN-MY", "dealer", "T3", D("27.00")),  # 30.00 × 0.90
    ],
)
def test_tier_follows_the_first_matching_rule(
    region: str, partner_type: str, tier: str, amount: Decimal
) -> None:
    settlement = price(
        example_input(region=region, partner_type=partner_type, service_items=items(("SVC-VISIT", 1)))
    )
    assert settlement.tier == tier
    assert settlement.lines[0].amount == amount


def test_completion_time_given_in_utc_is_read_in_the_tenant_time_zone() -> None:
    # 15:30 UTC is 23:30 in Shanghai: night
    data = example_input(
        completed_at=datetime(2026, 11, 3, 15, 30, tzinfo=UTC), service_items=items(("SVC-VISIT", 1))
    )
    assert [s.code for s in price(data).surcharges] == ["night"]


@pytest.mark.parametrize(
    ("local", "night"),
    [
        (time(7, 59), True),
        (time(7, 59, 59), True),
        (time(8, 0), False),  # end exclusive
        (time(12, 0), False),
        (time(19, 59, 59), False),
        (time(20, 0), True),  # start inclusive
        (time(23, 59), True),
        (time(0, 0), True),  # wraps midnight
    ],
)
def test_night_window_wraps_midnight(local: time, night: bool) -> None:
    completed_at = datetime.combine(DAYTIME.date(), local, tzinfo=SHANGHAI)
    settlement = price(example_input(completed_at=completed_at, service_items=items(("SVC-VISIT", 1))))
    assert ("night" in [s.code for s in settlement.surcharges]) is night


@pytest.mark.parametrize(
    ("at", "start", "end", "inside"),
    [
        (time(12, 0), "12:00", "14:00", True),
        (time(13, 59, 59), "12:00", "14:00", True),
        (time(14, 0), "12:00", "14:00", False),
        (time(11, 59), "12:00", "14:00", False),
        (time(23, 0), "22:00", "02:00", True),
        (time(1, 59), "22:00", "02:00", True),
        (time(2, 0), "22:00", "02:00", False),
        (time(21, 59), "22:00", "02:00", False),
        (time(3, 0), "08:00", "08:00", True),  # from == to: the whole day
    ],
)
def test_in_window(at: time, start: str, end: str, inside: bool) -> None:
    assert in_window(at, start, end) is inside


def test_tier_rules_can_require_a_ticket_type() -> None:
    catalog = make_catalog(
        tiers=["T1", "T2"],
        service_items=[{"code": "X", "name": "x", "unit": "pc", "price": {"T1": "10.00", "T2": "5.00"}}],
        tier_rules=[{"when": {"ticket_type": "consult"}, "tier": "T2"}, {"when": {}, "tier": "T1"}],
    )
    lines = items(("X", 1))
    assert price(custom_input(catalog, ticket_type="consult", service_items=lines)).tier == "T2"
    assert price(custom_input(catalog, ticket_type="install", service_items=lines)).tier == "T1"
    # a ticket without a type does not match a rule that names one
    assert price(custom_input(catalog, ticket_type=None, service_items=lines)).tier == "T1"


def test_a_surcharge_on_priority_needs_the_ticket_to_have_that_priority() -> None:
    settlement = price(example_input(priority=None, service_items=items(("SVC-VISIT", 1))))
    assert settlement.surcharges == []


def test_an_empty_ticket_still_gets_fixed_surcharges() -> None:
    settlement = price(example_input(region="CN-MY"))
    assert settlement.lines == []
    assert settlement.subtotal == D("0.00")
    assert settlement.total == D("50.00")
    assert settlement.installer_earnings == D("30.00")


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("unit_price", "quantity", "coefficient", "amount"),
    [
        ("0.01", "0.5", "1.00", "0.01"),  # 0.005 → 0.01 (half-even would give 0.00)
        ("0.01", "0.4", "1.00", "0.00"),  # 0.004 → 0.00
        ("2.50", "0.25", "1.00", "0.63"),  # 0.625 → 0.63 (half-even: 0.62)
        ("5.35", "0.5", "1.00", "2.68"),  # 2.675 → 2.68 (a float rounds it to 2.67)
        ("45.00", "0.1", "1.15", "5.18"),  # 5.175 → 5.18
        ("1.00", "0.333", "1.00", "0.33"),
        ("1.00", "0.335", "1.00", "0.34"),
        ("19.99", "3", "1.07", "64.17"),  # 64.1679 → 64.17
        ("100", "1", "1", "100.00"),  # integers come out with two decimals
    ],
)
def test_line_amounts_round_half_up_to_the_cent(
    unit_price: str, quantity: str, coefficient: str, amount: str
) -> None:
    catalog = make_catalog(service_items=unit_price_item(unit_price))
    settlement = price(custom_input(catalog, coefficient, service_items=items(("X", quantity))))
    assert str(settlement.lines[0].amount) == amount


def test_percent_surcharge_rounds_half_up() -> None:
    # subtotal 0.50 × 1% = 0.005 → 0.01
    catalog = make_catalog(
        service_items=unit_price_item("0.50"), surcharges=[{"code": "one", "when": {}, "percent": "1"}]
    )
    settlement = price(custom_input(catalog, service_items=items(("X", 1))))
    assert settlement.surcharges[0].amount == D("0.01")
    assert settlement.total == D("0.51")


def test_earnings_round_half_up() -> None:
    # total 0.01 × 50% = 0.005 → 0.01
    catalog = make_catalog(service_items=unit_price_item("0.01"))
    assert price(custom_input(catalog, service_items=items(("X", 1)))).installer_earnings == D("0.01")


def test_the_catalog_rounding_mode_is_honoured() -> None:
    catalog = make_catalog(service_items=unit_price_item("0.01"), rounding="half_even")
    settlement = price(custom_input(catalog, service_items=items(("X", "0.5"))))
    assert settlement.lines[0].amount == D("0.00")


def test_integer_fixed_surcharges_come_out_with_two_decimals() -> None:
    catalog = make_catalog(surcharges=[{"code": "trip", "when": {}, "fixed": 50}])
    settlement = price(custom_input(catalog, service_items=items(("X", 1))))
    assert str(settlement.surcharges[0].amount) == "50.00"
    assert str(settlement.total) == "51.00"


@pytest.mark.parametrize(("currency", "places"), [("CNY", 2), ("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0)])
def test_minor_units(currency: str, places: int) -> None:
    assert minor_unit(currency) == places


def test_yen_amounts_round_to_whole_yen() -> None:
    catalog = make_catalog(
        service_items=unit_price_item("101"),
        surcharges=[{"code": "s", "when": {}, "percent": "10"}, {"code": "f", "when": {}, "fixed": "30"}],
    )
    settlement = price(custom_input(catalog, currency="JPY", service_items=items(("X", "1.5"))))
    # 101 × 1.5 = 151.5 → 152; 10% = 15.2 → 15; fixed 30; total 197; 50% = 98.5 → 99
    assert [str(line.amount) for line in settlement.lines] == ["152"]
    assert [str(s.amount) for s in settlement.surcharges] == ["15", "30"]
    assert str(settlement.total) == "197"
    assert str(settlement.installer_earnings) == "99"


# --------------------------------------------------------------------------- quantities and errors


@pytest.mark.parametrize("quantity", ["2", " 2 ", "2.0", 2, D("2"), "2.000"])
def test_quantities_may_be_decimal_strings_ints_or_decimals(quantity: Any) -> None:
    settlement = price(example_input(parts=parts(("PRT-BRACKET", quantity))))
    assert settlement.lines[0].amount == D("192.00")
    assert type(settlement.lines[0].quantity) is Decimal


@pytest.mark.parametrize("quantity", [2.0, 0.1, True, "two", "NaN", "Infinity", None])
def test_floats_and_non_numbers_are_refused_as_quantities(quantity: Any) -> None:
    with pytest.raises(ValidationError, match="quantity"):
        example_input(parts=parts(("PRT-BRACKET", quantity)))


@pytest.mark.parametrize("quantity", ["0", "-1", "-0.5", "0.000"])
def test_non_positive_quantities_are_pricing_errors(quantity: str) -> None:
    with pytest.raises(PricingError, match="more than 0"):
        price(example_input(service_items=items(("SVC-VISIT", quantity))))


def test_unknown_service_item_names_the_code_and_a_close_one() -> None:
    with pytest.raises(PricingError, match=r"unknown service item 'SVC-AC-INSTAL'.*SVC-AC-INSTALL") as caught:
        price(example_input(service_items=items(("SVC-AC-INSTAL", 1))))
    assert caught.value.status == 422
    assert caught.value.body()["error"] == "pricing_error"


def test_unknown_part_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="unknown part 'PRT-NOPE'"):
        price(example_input(parts=parts(("PRT-NOPE", 1))))


def test_a_part_number_is_not_a_service_item() -> None:
    with pytest.raises(PricingError, match="unknown service item 'PRT-BRACKET'"):
        price(example_input(service_items=items(("PRT-BRACKET", 1))))


def test_missing_price_for_the_tier_is_a_pricing_error() -> None:
    catalog = make_catalog(
        tiers=["T1", "T2"],
        service_items=[{"code": "X", "name": "x", "unit": "pc", "price": {"T1": "10.00"}}],
        tier_rules=[{"when": {}, "tier": "T2"}],
    )
    with pytest.raises(PricingError, match="no price for tier 'T2'"):
        price(custom_input(catalog, service_items=items(("X", 1))))


def test_no_matching_tier_rule_is_a_pricing_error() -> None:
    catalog = make_catalog(tier_rules=[{"when": {"region_class": "tier1"}, "tier": "T1"}])
    with pytest.raises(PricingError, match=r"no catalog\.tier_rules entry matches region class 'c'"):
        price(custom_input(catalog, service_items=items(("X", 1))))


def test_unknown_region_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="unknown region 'CN-XX'"):
        price(example_input(region="CN-XX"))


def test_no_matching_share_rule_is_a_pricing_error() -> None:
    catalog = make_catalog(installer_share=[{"when": {"partner_type": "dealer"}, "percent": "85"}])
    with pytest.raises(PricingError, match="installer_share"):
        price(custom_input(catalog, service_items=items(("X", 1))))


def test_a_catalog_without_share_rules_shares_nothing() -> None:
    settlement = price(custom_input(make_catalog(installer_share=[]), service_items=items(("X", 3))))
    assert settlement.installer_share_percent == D("0")
    assert settlement.installer_earnings == D("0.00")
    assert settlement.total == D("3.00")


def test_a_quantity_too_long_to_price_exactly_is_a_pricing_error() -> None:
    quantity = "0." + "3" * 90
    with pytest.raises(PricingError, match="too many digits"):
        price(example_input(service_items=items(("SVC-VISIT", quantity))))


def test_a_naive_completion_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        example_input(completed_at=datetime(2026, 11, 3, 14, 0))


def test_settlement_round_trips_through_json_with_money_as_strings() -> None:
    settlement = price(
        example_input(
            priority="urgent", service_items=items(("SVC-AC-INSTALL", 1)), parts=parts(("PRT-BRACKET", 2))
        )
    )
    document = settlement.model_dump(mode="json")
    assert document["total"] == "561.60"  # 432.00 + 30% 129.60
    assert document["lines"][1]["quantity"] == "2"
    assert Settlement.model_validate_json(settlement.model_dump_json()) == settlement


# --------------------------------------------------------------------------- properties

CENT = D("0.01")
money_texts = st.decimals(min_value=0, max_value=D("99999.99"), places=2).map(str)
quantities = st.decimals(min_value=D("0.001"), max_value=D("999"), places=3).filter(lambda q: q > 0)
coefficients = st.decimals(min_value=D("0.01"), max_value=D("5"), places=2)
percents = st.decimals(min_value=0, max_value=100, places=2).map(str)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    tiers = ["T1", "T2"]
    n_items = draw(st.integers(1, 4))
    return make_catalog(
        tiers=tiers,
        service_items=[
            {"code": f"S{i}", "name": "s", "unit": "pc", "price": {t: draw(money_texts) for t in tiers}}
            for i in range(n_items)
        ],
        parts=[
            {"sku": f"P{i}", "name": "p", "unit": "m", "price": {t: draw(money_texts) for t in tiers}}
            for i in range(draw(st.integers(0, 3)))
        ],
        tier_rules=[{"when": {"partner_type": "direct"}, "tier": "T1"}, {"when": {}, "tier": "T2"}],
        surcharges=draw(
            st.lists(
                st.one_of(
                    st.builds(lambda p: {"when": {"priority": "urgent"}, "percent": p}, percents),
                    st.builds(
                        lambda p: {"when": {"completed_between": ["20:00", "08:00"]}, "percent": p}, percents
                    ),
                    st.builds(lambda f: {"when": {}, "fixed": f}, money_texts),
                ),
                max_size=4,
            ).map(lambda found: [{"code": f"c{i}", **s} for i, s in enumerate(found)])
        ),
        installer_share=[
            {"when": {"partner_type": "direct"}, "percent": draw(percents)},
            {"when": {}, "percent": draw(percents)},
        ],
    )


@st.composite
def pricing_inputs(draw: st.DrawFn, currency: str = "CNY") -> PricingInput:
    catalog = draw(catalogs())
    return custom_input(
        catalog,
        str(draw(coefficients)),
        currency=currency,
        partner_type=draw(st.sampled_from(["direct", "dealer"])),
        priority=draw(st.sampled_from(["normal", "urgent", None])),
        completed_at=draw(
            st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(SHANGHAI))
        ),
        service_items=[
            {
                "code": draw(st.sampled_from([i.code for i in catalog.service_items])),
                "quantity": str(draw(quantities)),
            }
            for _ in range(draw(st.integers(0, 4)))
        ],
        parts=[
            {"sku": draw(st.sampled_from([p.sku for p in catalog.parts])), "quantity": str(draw(quantities))}
            for _ in range(draw(st.integers(0, 3) if catalog.parts else st.just(0)))
        ],
    )


def walk(value: object) -> Iterator[object]:
    """Every leaf of a model dump."""
    if isinstance(value, BaseModel):
        yield from walk(value.model_dump())
    elif isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from walk(item)
    else:
        yield value


def money_of(settlement: Settlement) -> list[Decimal]:
    return [
        *(line.amount for line in settlement.lines),
        settlement.subtotal,
        *(s.amount for s in settlement.surcharges),
        settlement.total,
        settlement.installer_earnings,
    ]


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_total_is_subtotal_plus_surcharges(data: PricingInput) -> None:
    settlement = price(data)
    assert settlement.subtotal == sum((line.amount for line in settlement.lines), D(0))
    assert settlement.total == settlement.subtotal + sum((s.amount for s in settlement.surcharges), D(0))


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_earnings_are_between_zero_and_the_total(data: PricingInput) -> None:
    settlement = price(data)
    assert D(0) <= settlement.installer_earnings <= settlement.total


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_amounts_have_exactly_two_decimals_and_nothing_is_a_float(data: PricingInput) -> None:
    settlement = price(data)
    for amount in money_of(settlement):
        assert type(amount) is Decimal
        assert amount.as_tuple().exponent == -2
    for leaf in walk(settlement):
        assert not isinstance(leaf, float)
    for leaf in (settlement.installer_share_percent, *(line.quantity for line in settlement.lines)):
        assert type(leaf) is Decimal


@settings(max_examples=200, deadline=None)
@given(pricing_inputs())
def test_each_amount_is_the_exact_value_rounded_half_up(data: PricingInput) -> None:
    settlement = price(data)
    for line in settlement.lines:
        exact = line.unit_price * line.quantity * line.coefficient
        assert line.amount == exact.quantize(CENT, rounding=ROUND_HALF_UP)
        assert abs(line.amount - exact) <= D("0.005")
    for surcharge in settlement.surcharges:
        if surcharge.percent is not None:
            exact = settlement.subtotal * surcharge.percent / 100
            assert surcharge.amount == exact.quantize(CENT, rounding=ROUND_HALF_UP)
    exact = settlement.total * settlement.installer_share_percent / 100
    assert settlement.installer_earnings == exact.quantize(CENT, rounding=ROUND_HALF_UP)


@settings(max_examples=100, deadline=None)
@given(pricing_inputs(currency="JPY"))
def test_yen_amounts_are_whole(data: PricingInput) -> None:
    settlement = price(data)
    assert all(amount.as_tuple().exponent == 0 for amount in money_of(settlement))
    assert settlement.total == settlement.subtotal + sum((s.amount for s in settlement.surcharges), D(0))
