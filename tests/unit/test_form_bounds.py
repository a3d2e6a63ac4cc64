"""Form values are bounded: nothing a form accepts can break a later step (issue 20's defects)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.tenant.models import FieldDef
from shared.workflow.forms import LIST_MAX, QUANTITY_MAX, TEXT_MAX, FormContext, validate_form

CTX = FormContext(service_items=["SVC-A"], parts=["PRT-B"])


def check(type_: str, value: Any, **spec: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    field = FieldDef.model_validate({"name": "f", "type": type_, **spec})
    return validate_form([field], {"f": value}, CTX)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400, "1", True])
def test_numbers_must_be_finite_numbers_in_range(value: Any) -> None:
    accepted, problems = check("number", value)
    assert accepted == {} and problems[0]["field"] == "f", problems


def test_a_field_range_wins_over_the_default_limit() -> None:
    assert check("number", 10**16, max=10**17)[1] == []
    assert check("number", 5, min=6)[1] == [{"field": "f", "message": "must be at least 6"}]


@pytest.mark.parametrize(
    "quantity", ["1e999999", "-1", "0", "abc", float("nan"), 10**9, "1.00001", "NaN", "Infinity"]
)
def test_quantities_are_positive_bounded_decimals(quantity: Any) -> None:
    accepted, problems = check("service_items", [{"code": "SVC-A", "quantity": quantity}])
    assert accepted == {} and "quantity" in problems[0]["message"], problems


@pytest.mark.parametrize(("given", "stored"), [(1.5, "1.5"), ("2.25", "2.25"), (3, 3), (" 4 ", "4")])
def test_a_json_number_and_a_decimal_string_are_both_quantities(given: Any, stored: Any) -> None:
    accepted, problems = check("parts", [{"sku": "PRT-B", "quantity": given}])
    assert problems == [] and accepted["f"] == [{"sku": "PRT-B", "quantity": stored}]


def test_the_tenant_sets_the_quantity_ceiling() -> None:
    line = [{"code": "SVC-A", "quantity": 20000}]
    assert check("service_items", line)[1][0]["message"].endswith(f"at most {QUANTITY_MAX}")
    assert check("service_items", line, max_quantity="50000")[1] == []


def test_text_has_a_default_length_limit_and_a_tenant_one() -> None:
    assert check("text", "x" * TEXT_MAX)[1] == []
    assert "at most 2000 characters" in check("text", "x" * (TEXT_MAX + 1))[1][0]["message"]
    assert "at most 10" in check("text", "x" * 11, max=10)[1][0]["message"]
    assert "at most" in check("photos", ["p"] * (LIST_MAX + 1))[1][0]["message"]


@pytest.mark.parametrize("value", ["\ud800", "ok\udfffok", ["a", "\ud83d"]])
def test_strings_that_cannot_be_stored_as_utf8_are_refused(value: Any) -> None:
    type_ = "photos" if isinstance(value, list) else "text"
    accepted, problems = check(type_, value)
    assert accepted == {} and "not valid Unicode" in problems[0]["message"]


def test_money_has_at_most_13_integer_digits() -> None:
    assert check("money", "1234567890123.45")[1] == []
    assert check("money", "12345678901234")[1] != []


@given(st.text(max_size=50))
def test_any_text_is_accepted_exactly_when_it_is_utf8(text: str) -> None:
    accepted, problems = check("text", text)
    storable = True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        storable = False
    if text == "":
        assert accepted == {} and problems == []
    else:
        assert (accepted == {"f": text}) == storable


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=100))
def test_every_positive_decimal_string_within_bounds_is_a_quantity(quantity: Decimal) -> None:
    _, problems = check("parts", [{"sku": "PRT-B", "quantity": str(quantity)}])
    assert (problems == []) == (quantity > 0), (quantity, problems)
