"""The customer domain: identity keys, matching order, the merge rule, tiers from the tenant's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.customer import (
    Customer,
    classify,
    identity_fields,
    keys_from_fields,
    merged,
    normalise_email,
    normalise_phone,
    ordered_keys,
    platform_key,
    survivor,
)
from shared.tenant.models import CustomerRules

T0 = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+8613800000001", "CN", "+8613800000001"),
        ("13800000001", "CN", "+8613800000001"),
        ("138 0000 0001", "CN", "+8613800000001"),
        ("+86 138-0000-0001", "CN", "+8613800000001"),
        ("008613800000001", "CN", "+8613800000001"),
        ("8613800000001", "CN", "+8613800000001"),
        ("010-6552 1234", "CN", "+861065521234"),
        ("+86 (010) 65521234", "CN", "+861065521234"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("1-415-555-0100", "US", "+14155550100"),
        ("+1 415 555 0100", "CN", "+14155550100"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("unknown", "CN", None),
        ("12345", "CN", None),
        ("23800000001", "CN", None),  # not a mobile, no trunk zero
        ("(015) 555-0100", "US", None),  # area codes do not start with 0 or 1
        ("+0123456789", "CN", None),
        ("", "CN", None),
        (None, "CN", None),
        (True, "CN", None),
    ],
)
def test_phone_numbers_normalise_to_e164(raw: object, country: str, e164: str | None) -> None:
    assert normalise_phone(raw, country) == e164


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.sampled_from(["", " ", "-"]))
def test_every_written_form_of_a_cn_mobile_gives_one_key(national: str, sep: str) -> None:
    spaced = sep.join([national[:3], national[3:7], national[7:]])
    forms = [national, spaced, f"+86{spaced}", f"0086{national}", f"+86 {national}"]
    assert {normalise_phone(f, "CN") for f in forms} == {f"+86{national}"}


def test_emails_and_platform_ids() -> None:
    assert normalise_email("  Lin.Wei@Example.COM ") == "lin.wei@example.com"
    assert normalise_email("not-an-address") is None
    assert platform_key("shopify", 115310627314723954) == "shopify:115310627314723954"
    assert platform_key("woocommerce", 0) is None  # a guest checkout
    assert platform_key("webform", "x") is None


def test_matching_order_is_phone_then_platform_then_email() -> None:
    keys = ["email:a@b.cn", "wecom:wm1", "phone:+8613800000001", "shopify:7"]
    assert ordered_keys(keys) == ["phone:+8613800000001", "wecom:wm1", "shopify:7", "email:a@b.cn"]


def test_identity_fields_follow_field_types_not_names() -> None:
    types = {"mobile": "phone", "customer_phone": "text", "contact": "email", "who": "text"}
    carriers = identity_fields(CustomerRules(), types)
    assert carriers == {"phone": ["mobile"], "email": ["contact"], "name": []}
    told = identity_fields(
        CustomerRules.model_validate({"identity_fields": {"phone": ["customer_phone"], "name": ["who"]}}),
        types,
    )
    keys, name = keys_from_fields({"customer_phone": "13800000001", "who": " 林 "}, told, "CN")
    assert keys == ["phone:+8613800000001"] and name == "林"


def _customer(cid: str, at: datetime, **extra: object) -> Customer:
    return Customer(tenant="acme-home", id=cid, created_at=at, updated_at=at, **extra)


def test_the_older_record_survives_a_merge_and_keeps_both() -> None:
    old = _customer("CU-b", T0, phones=["+8613800000001"], tickets=2, lifetime_value=Decimal("10.50"))
    new = _customer(
        "CU-a", T0 + timedelta(days=1), platform_ids=["shopify:7"], orders=1, lifetime_value=Decimal("99")
    )
    assert survivor(new, old) == (old, new)
    assert survivor(_customer("CU-b", T0), _customer("CU-a", T0))[0].id == "CU-a"  # a tie: the smaller id
    both = merged(old, new, T0)
    assert both.keys == ["phone:+8613800000001", "shopify:7"]
    assert (both.tickets, both.orders, both.lifetime_value) == (2, 1, Decimal("109.50"))
    assert both.merged_from == ["CU-a"]


def test_tiers_and_tags_from_the_example_tenant_rules() -> None:
    from shared.tenant.loader import load_tenant_file

    rules = load_tenant_file("examples/tenants/acme-home.yaml").customers
    shopper = _customer(
        "CU-1",
        T0,
        orders=2,
        lifetime_value=Decimal("5000.00"),
        tickets=3,
        platform_ids=["wecom:w", "shopify:1"],
    )
    assert classify(shopper, rules) == ("VIP", ["repeat", "omnichannel"])
    assert classify(_customer("CU-2", T0, orders=1), rules) == ("regular", [])
    assert classify(_customer("CU-3", T0), rules) == (None, [])


def test_identity_keys_are_masked_in_logs() -> None:
    from shared.observability import redact

    logged = redact(
        {"message": "resolved phone:+8613800000001 and email:lin.wei@example.com", "key": "wecom:wm1"}
    )
    assert "+8613800000001" not in logged["message"] and "lin.wei@example.com" not in logged["message"]
    assert "+86138****0001" in logged["message"] and "l***@example.com" in logged["message"]
