"""The condition language: generated conditions evaluate as a plain reference does, dumps read back
equal, and validation catches every misspelt path and operator at its location."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.rules.conditions import (
    OPERATORS,
    SUBJECT_PATHS,
    Condition,
    check,
    choice_input,
    choice_rule,
    evaluate,
    subject_paths,
)
from shared.tenant.validate import validate_tenant_data
from tests.factories import load_example

PATHS = {**SUBJECT_PATHS, "ticket.fields.amount": "number", "ticket.fields.kinds": "list"}
TEXTS = ["VIP", "vip", "repeat", "install", "urgent", "a*b", ""]
NUMBERS = [Decimal(v) for v in ("0", "3", "5000", "4999.99", "-1", "12.5")]


# --------------------------------------------------------------------------- the reference


def _get(subject: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = subject
    for part in path.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return False, None
        node = node[part]
    return True, node


def _num(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except Exception:
        return None


def _eq(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float | Decimal):
        number = _num(actual)
        return number is not None and number == Decimal(str(expected))
    return isinstance(actual, str) and actual == expected


def _glob(pattern: str, value: str) -> bool:
    tokens = re.findall(r"\\[*\\]|.", pattern, re.S)  # an escaped star or backslash, else one character
    parts = [".*" if t == "*" else re.escape(t[-1]) for t in tokens]
    return re.fullmatch("".join(parts), value, re.S) is not None


def reference(raw: Any, subject: dict[str, Any]) -> bool:
    """The semantics as docs/rules.md states them, written without the module's code."""
    if isinstance(raw, list):
        return all(reference(c, subject) for c in raw)
    if "all" in raw:
        return all(reference(c, subject) for c in raw["all"])
    if "any" in raw:
        return any(reference(c, subject) for c in raw["any"])
    if "not" in raw:
        return not reference(raw["not"], subject)
    ((op, value),) = ((k, v) for k, v in raw.items() if k != "path")
    present, actual = _get(subject, raw["path"])
    if op == "exists":
        return present == value
    if not present:
        return False
    if op in ("gt", "gte", "lt", "lte"):
        number = _num(actual)
        if number is None:
            return False
        bound = Decimal(str(value))
        return {"gt": number > bound, "gte": number >= bound, "lt": number < bound, "lte": number <= bound}[
            op
        ]
    return {
        "equals": lambda: _eq(actual, value),
        "not_equals": lambda: not _eq(actual, value),
        "in": lambda: any(_eq(actual, v) for v in value),
        "not_in": lambda: not any(_eq(actual, v) for v in value),
        "contains": lambda: isinstance(actual, list) and any(_eq(item, value) for item in actual),
        "matches": lambda: isinstance(actual, str) and _glob(value, actual),
    }[op]()


# --------------------------------------------------------------------------- generators

_scalar = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans())


def _comparison() -> st.SearchStrategy[dict[str, Any]]:
    def build(path: str, op: str, data: st.DataObject) -> dict[str, Any]:
        if op == "exists":
            value: Any = data.draw(st.booleans())
        elif op in ("gt", "gte", "lt", "lte"):
            value = data.draw(st.sampled_from(NUMBERS))
        elif op in ("in", "not_in"):
            value = data.draw(st.lists(_scalar, min_size=1, max_size=3))
        elif op == "matches":
            value = data.draw(st.sampled_from(["*", "V*", "*p*", "install", "a\\*b"]))
        else:
            value = data.draw(_scalar)
        return {"path": path, op: value}

    return st.builds(build, st.sampled_from(sorted(PATHS)), st.sampled_from(OPERATORS), st.data())


conditions: st.SearchStrategy[Any] = st.recursive(
    _comparison(),
    lambda inner: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(inner, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=8,
)

_value = st.one_of(
    st.none(),
    st.sampled_from(TEXTS),
    st.sampled_from(NUMBERS),
    st.sampled_from(["5000.00", "3", "abc"]),  # money arrives as decimal strings
    st.integers(-2, 6000),
    st.booleans(),
    st.lists(st.sampled_from(TEXTS), max_size=3),
)


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    subject: dict[str, Any] = {}
    for path in PATHS:
        if draw(st.booleans()):
            *parents, leaf = path.split(".")
            node = subject
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = draw(_value)
    return subject


# --------------------------------------------------------------------------- properties


@settings(max_examples=400, deadline=None)
@given(conditions, subjects())
def test_generated_conditions_evaluate_as_the_reference(raw: Any, subject: dict[str, Any]) -> None:
    condition = Condition.model_validate(raw)
    assert evaluate(condition, subject) == reference(raw, subject)


@settings(max_examples=200, deadline=None)
@given(conditions)
def test_a_dump_reads_back_equal(raw: Any) -> None:
    condition = Condition.model_validate(raw)
    assert Condition.model_validate(condition.model_dump(mode="json", by_alias=True)) == condition


def _comparisons(raw: Any, at: str) -> list[tuple[str, dict[str, Any]]]:
    """(location, comparison) of every comparison, located as written."""
    if isinstance(raw, list):
        return [found for i, c in enumerate(raw) for found in _comparisons(c, f"{at}.{i}")]
    for key in ("all", "any"):
        if key in raw:
            return [found for i, c in enumerate(raw[key]) for found in _comparisons(c, f"{at}.{key}.{i}")]
    if "not" in raw:
        return _comparisons(raw["not"], f"{at}.not")
    return [(at, raw)]


_typo = st.sampled_from(["drop", "double", "swap", "case"])


def _misspell(word: str, how: str, index: int) -> str:
    index %= len(word)
    if how == "drop":
        return word[:index] + word[index + 1 :]
    if how == "double":
        return word[:index] + word[index] + word[index:]
    if how == "swap" and index + 1 < len(word):
        return word[:index] + word[index + 1] + word[index] + word[index + 2 :]
    return word[:index] + word[index].swapcase() + word[index + 1 :]


def _replace(raw: Any, target: dict[str, Any], new: dict[str, Any]) -> Any:
    if raw is target:
        return new
    if isinstance(raw, list):
        return [_replace(c, target, new) if isinstance(c, dict | list) else c for c in raw]
    return {k: _replace(v, target, new) if isinstance(v, dict | list) else v for k, v in raw.items()}


@settings(max_examples=300, deadline=None)
@given(conditions, st.data(), _typo, st.integers(0, 40))
def test_every_misspelt_path_is_reported_where_it_is(
    raw: Any, data: st.DataObject, how: str, index: int
) -> None:
    found = _comparisons(raw, "when")
    assume(found)
    at, comparison = data.draw(st.sampled_from(found))
    wrong = _misspell(comparison["path"], how, index)
    if wrong in PATHS:
        return
    broken = _replace(raw, comparison, {**comparison, "path": wrong})
    problems = check(Condition.model_validate(broken), PATHS, at="when", raw=broken)
    assert any(p.path == f"{at}.path" and repr(wrong) in p.message for p in problems)


@settings(max_examples=200, deadline=None)
@given(conditions, st.data(), _typo, st.integers(0, 40))
def test_every_misspelt_operator_is_refused(raw: Any, data: st.DataObject, how: str, index: int) -> None:
    found = _comparisons(raw, "when")
    assume(found)
    _at, comparison = data.draw(st.sampled_from(found))
    op = next(k for k in comparison if k != "path")
    wrong = _misspell(op, how, index)
    if wrong in (*OPERATORS, "path", "all", "any", "not"):
        return
    broken = _replace(raw, comparison, {"path": comparison["path"], wrong: comparison[op]})
    with pytest.raises(ValidationError, match=re.escape(wrong)):
        Condition.model_validate(broken)


# --------------------------------------------------------------------------- examples


def test_missing_paths_are_false_except_exists_false() -> None:
    for raw in (
        {"path": "customer.tier", "not_equals": "VIP"},
        {"path": "customer.tier", "not_in": ["VIP"]},
        {"path": "customer.lifetime_value", "lt": 1},
    ):
        assert evaluate(Condition.model_validate(raw), {"customer": {}}) is False
    assert evaluate(Condition.model_validate({"path": "customer.tier", "exists": False}), {}) is True


def test_money_strings_compare_as_exact_decimals() -> None:
    vip = Condition.model_validate({"path": "customer.lifetime_value", "gte": 5000})
    assert evaluate(vip, {"customer": {"lifetime_value": "5000.00"}})
    assert not evaluate(vip, {"customer": {"lifetime_value": "4999.99"}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "an empty condition"),
        ({"path": "customer.tier"}, "has no operator"),
        ({"gte": 3}, "needs a 'path'"),
        ({"path": "customer.orders", "gte": 1, "lte": 3}, "one operator per comparison"),
        ({"all": [], "path": "customer.orders", "gte": 1}, "this one has all and path"),
        ({"path": "customer.orders", "gte": True}, "expected a number"),
        ({"path": "customer.orders", "in": []}, "at least 1"),
    ],
)
def test_shapes_that_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Condition.model_validate(raw)


def test_type_mismatches_are_errors() -> None:
    paths = subject_paths(("customer",))
    cases = {
        "customer.tier gte": ({"path": "customer.tier", "gte": 3}, "does not apply"),
        "quoted number": ({"path": "customer.orders", "equals": "3"}, "compares with a number"),
        "contains on a number": ({"path": "customer.orders", "contains": "x"}, "does not apply"),
        "ticket path for a customer rule": ({"path": "ticket.type", "equals": "install"}, "only customer.*"),
    }
    for name, (raw, message) in cases.items():
        problems = check(Condition.model_validate(raw), paths, at="when")
        assert problems and message in problems[0].message, name


def test_ticket_fields_are_typed_by_the_ticket_type() -> None:
    paths = subject_paths(("ticket", "customer"), {"amount": "money", "kinds": "multiselect", "note": "text"})
    assert paths["ticket.fields.amount"] == "number" and paths["ticket.fields.kinds"] == "list"
    assert not check(Condition.model_validate({"path": "ticket.fields.amount", "gt": 100}), paths)
    assert check(Condition.model_validate({"path": "ticket.fields.note", "gt": 100}), paths)


def test_validate_reports_customers_rules_with_locations_and_suggestions() -> None:
    data = load_example("acme-home")
    data["customers"] = {
        "tiers": [
            {"tier": "VIP", "when": {"path": "customer.lifetime_value", "gte": 5000}},
            {"tier": "gold", "when": {"any": [{"path": "customer.ordrs", "gte": 2}]}},
        ],
        "tags": [{"tag": "big", "when": [{"path": "customer.orders", "gtee": 3}]}],
        "deliveries": {"shopify-mian": {"buyer_id": "customer.id"}},
    }
    _config, problems = validate_tenant_data(data, file="t.yaml")
    found = {p.path: p.message for p in problems}
    assert "did you mean 'customer.orders'?" in found["customers.tiers.1.when.any.0.path"]
    assert "did you mean 'gte'?" in found["customers.tags.0.when.0.gtee"]  # located as written (a list)
    assert "did you mean 'shopify-main'?" in found["customers.deliveries.shopify-mian"]


def test_tiers_are_taken_in_file_order_not_by_name() -> None:
    from shared.domain.customer import Customer, classify
    from shared.tenant.models import CustomerRules

    rules = CustomerRules.model_validate(
        {
            "tiers": [
                {"tier": "zeta", "when": {"path": "customer.orders", "gte": 1}},
                {"tier": "alpha", "when": {"path": "customer.orders", "gte": 1}},
            ],
            "tags": [
                {"tag": "z-first", "when": {"path": "customer.tier", "equals": "zeta"}},
                {"tag": "a-second", "when": {"path": "customer.orders", "gte": 0}},
            ],
        }
    )
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    customer = Customer(tenant="t", id="CU-1", orders=2, created_at=at, updated_at=at)
    assert classify(customer, rules) == ("zeta", ["z-first", "a-second"])


# --------------------------------------------------------------------------- Choice rules


class ChoiceRuntimeError(Exception):
    """What Step Functions raises (``States.Runtime``) for a comparison on a missing path."""


def _resolve(document: Any, variable: str) -> tuple[bool, Any]:
    tokens = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]", variable[1:])
    node = document
    for dotted, quoted in tokens:
        key = dotted or quoted
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def asl_choice(rule: dict[str, Any], document: Any) -> bool:
    """A small interpreter of JSONPath Choice rules: And/Or short-circuit, and any test but
    IsPresent on a missing path is a runtime error, as in Step Functions."""
    if "And" in rule:
        return all(asl_choice(r, document) for r in rule["And"])
    if "Or" in rule:
        return any(asl_choice(r, document) for r in rule["Or"])
    if "Not" in rule:
        return not asl_choice(rule["Not"], document)
    ((test, operand),) = ((k, v) for k, v in rule.items() if k != "Variable")
    present, value = _resolve(document, rule["Variable"])
    if test == "IsPresent":
        return present == operand
    if not present:
        raise ChoiceRuntimeError(rule["Variable"])
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    checks = {
        "IsString": lambda: isinstance(value, str) == operand,
        "IsNumeric": lambda: numeric == operand,
        "IsBoolean": lambda: isinstance(value, bool) == operand,
        "StringEquals": lambda: isinstance(value, str) and value == operand,
        "BooleanEquals": lambda: isinstance(value, bool) and value == operand,
        "StringMatches": lambda: isinstance(value, str) and _glob(operand, value),
    }
    if test in checks:
        return bool(checks[test]())
    if not numeric:
        return False
    number, bound = Decimal(str(value)), Decimal(str(operand))
    return {
        "NumericEquals": number == bound,
        "NumericGreaterThan": number > bound,
        "NumericGreaterThanEquals": number >= bound,
        "NumericLessThan": number < bound,
        "NumericLessThanEquals": number <= bound,
    }[test]


@settings(max_examples=400, deadline=None)
@given(conditions, subjects())
def test_a_compiled_choice_rule_holds_exactly_when_the_condition_does(
    raw: Any, subject: dict[str, Any]
) -> None:
    condition = Condition.model_validate(raw)
    assume(not check(condition, PATHS))  # what scrm validate lets through
    rule = choice_rule(condition, "$.subject")
    document = {"subject": choice_input(subject, PATHS)}
    # both go through JSON, as the state machine definition and the execution input do
    as_json = json.loads(json.dumps(rule)), json.loads(json.dumps(document))
    assert asl_choice(*as_json) == evaluate(condition, subject)
