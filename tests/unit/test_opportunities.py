"""Opportunities (工单商机联动): the tenant file's `opportunity_rules` checks, the domain's
transitions, and which rules open which opportunity (the repository and the twin: tests/integration
/test_opportunity_repository.py, tests/e2e/test_opportunities_twin.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.domain import opportunity as domain
from shared.errors import Conflict, ValidationFailed
from shared.tenant.validate import validate_tenant_data

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = "ticket_types.consult.opportunity_rules"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))


def _problems(data: dict[str, Any], **changes: Any) -> dict[str, list[str]]:
    data = copy.deepcopy(data)
    rule = data["ticket_types"]["consult"]["opportunity_rules"][0]
    rule.update(changes)
    cfg, problems = validate_tenant_data(data, file="t.yaml")
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.path, []).append(problem.message)
    assert cfg is None or not found
    return found


# ------------------------------------------------------------------ the tenant file


def test_the_example_rule_is_clean(example: dict[str, Any]) -> None:
    assert _problems(example) == {}


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        (
            {"when": {"path": "ticket.fields.anwser", "matches": "*x*"}},
            f"{RULES}.extended-warranty.when.path",
            "did you mean 'ticket.fields.answer'",
        ),
        (
            {"event": "created", "when": {"path": "ticket.fields.answer", "matches": "*x*"}},
            f"{RULES}.extended-warranty.when.path",
            "answer",  # filled by a form: not there yet when the ticket is created
        ),
        (
            {"owner": {"role": "supervisr"}},
            f"{RULES}.extended-warranty.owner.role",
            "did you mean 'supervisor'",
        ),
        ({"owner": {"user": "u-zhoa"}}, f"{RULES}.extended-warranty.owner.user", "did you mean 'u-zhao'"),
        ({"owner": {"user": "u-zhao", "role": "agent"}}, f"{RULES}.extended-warranty.owner", "exactly one"),
        ({"amount": 399.5}, f"{RULES}.extended-warranty.amount", '"399.50"'),
        ({"amount": "-1"}, f"{RULES}.extended-warranty.amount", "negative"),
        ({"event": "moved"}, f"{RULES}.extended-warranty.event", "closed"),
    ],
)
def test_each_mistake_is_reported_at_its_path(
    example: dict[str, Any], changes: dict[str, Any], path: str, fragment: str
) -> None:
    found = _problems(example, **changes)
    assert path in found, found
    assert any(fragment in message for message in found[path]), found[path]


def test_a_rule_id_used_twice_is_an_error(example: dict[str, Any]) -> None:
    data = copy.deepcopy(example)
    rules = data["ticket_types"]["consult"]["opportunity_rules"]
    rules.append({**rules[0], "kind": "other"})
    _cfg, problems = validate_tenant_data(data, file="t.yaml")
    assert [p.path for p in problems] == [f"{RULES}.extended-warranty.id"]


# ------------------------------------------------------------------ the domain


def _opp(owner: str = "role:sales") -> domain.Opportunity:
    return domain.opened(
        tenant="acme",
        ticket_id="T-1",
        ticket_type="repair",
        rule="extended-warranty",
        kind="extended_warranty",
        amount=Decimal("399.00"),
        currency="CNY",
        owner=owner,
        customer_id="CU-1",
        at=T0,
    )


def test_the_id_is_the_same_for_the_same_ticket_and_rule_only() -> None:
    assert _opp().id == _opp(owner="u-1").id
    assert domain.opportunity_id("acme", "T-1", "a") != domain.opportunity_id("acme", "T-1", "b")
    assert domain.opportunity_id("acme", "T-1", "a") != domain.opportunity_id("other", "T-1", "a")


def test_win_lose_and_assign_move_an_open_opportunity_once() -> None:
    opp = _opp()
    assert (opp.status, opp.stage, opp.version) == ("open", "new", 1)
    mine = domain.assign(opp, "u-boss", T0 + timedelta(hours=1), "u-1", ["u-1", "u-2"])
    assert (mine.owner, mine.stage, mine.version) == ("u-1", "working", 2)
    won = domain.win(mine, "u-1", T0 + timedelta(hours=2))
    assert (won.status, won.stage, won.version) == ("won", "won", 3)
    assert [line.action for line in won.history] == ["created", "assign", "win"]
    with pytest.raises(Conflict, match="is won already; only an open opportunity can be lost"):
        domain.lose(won, "u-1", T0, "too late")
    with pytest.raises(Conflict, match="is won already"):
        domain.win(won, "u-1", T0)
    with pytest.raises(Conflict, match="is won already"):
        domain.assign(won, "u-1", T0, "u-2", ["u-2"])
    lost = domain.lose(opp, "u-2", T0, "  bought elsewhere ")
    assert (lost.status, lost.lost_reason, lost.history[-1].details) == (
        "lost",
        "bought elsewhere",
        {"reason": "bought elsewhere"},
    )


def test_a_loss_needs_a_reason_and_an_assignment_a_known_user() -> None:
    with pytest.raises(ValidationFailed) as no_reason:
        domain.lose(_opp(), "u-1", T0, " ")
    assert no_reason.value.details[0]["field"] == "reason"
    with pytest.raises(ValidationFailed) as unknown:
        domain.assign(_opp(), "u-1", T0, "u-zhoa", ["u-zhao"])
    assert unknown.value.details[0]["field"] == "user"
    assert "did you mean 'u-zhao'" in unknown.value.message
    with pytest.raises(Conflict, match="assigned to 'u-1' already"):
        domain.assign(_opp(owner="u-1"), "u-1", T0, "u-1", ["u-1"])


def test_the_pipeline_counts_and_sums_per_stage_and_kind() -> None:
    a = _opp()
    b = domain.win(_opp().model_copy(update={"id": "OP-b"}), "u", T0)
    c = _opp().model_copy(update={"id": "OP-c", "amount": Decimal("100.50")})
    rows = domain.pipeline([b, a, c])
    assert rows == [
        {
            "stage": "new",
            "kind": "extended_warranty",
            "currency": "CNY",
            "count": 2,
            "amount": Decimal("499.50"),
        },
        {
            "stage": "won",
            "kind": "extended_warranty",
            "currency": "CNY",
            "count": 1,
            "amount": Decimal("399.00"),
        },
    ]
