"""Rules that route by themselves: `priority_rules` at creation, `decision` nodes (their Task's
facts, their Choice, their checks in `scrm validate`), on generated rule lists too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.ticket import service
from functions.ticket.create import create_ticket
from functions.ticket.facts import prioritise, ticket_subject
from functions.ticket.step import step
from shared.domain.customer import Customer
from shared.rules.conditions import evaluate
from shared.tenant import load_tenant_file
from shared.tenant.models import PriorityRule, TenantConfig
from shared.tenant.validate import validate_tenant_data
from shared.workflow.compiler import compile_definition
from tests import factories
from tests.fakes import FakeEngine, FakeTickets

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
AT = datetime(2026, 11, 23, 1, tzinfo=UTC)


class OneCustomer:
    """The part of ``CustomerStore`` the rules read: ``find``."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer

    def find(self, tenant: str, customer_id: str) -> Customer | None:
        return self.customer if customer_id == self.customer.id else None


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    cfg: TenantConfig = load_tenant_file(str(EXAMPLE))
    return cfg


def vip(tier: str | None = "VIP") -> Customer:
    return Customer(tenant="acme-home", id="C-1", tier=tier, created_at=AT, updated_at=AT)


VIP_URGENT = PriorityRule.model_validate(
    {"when": {"path": "customer.tier", "equals": "VIP"}, "priority": "urgent"}
)


def with_vip_rule(cfg: TenantConfig) -> TenantConfig:
    install = cfg.ticket_types["install"].model_copy(update={"priority_rules": [VIP_URGENT]})
    return cfg.model_copy(update={"ticket_types": {**cfg.ticket_types, "install": install}})


def test_the_example_makes_commercial_units_urgent(acme: TenantConfig) -> None:
    install = acme.ticket_types["install"]
    commercial = ticket_subject("install", {"product_model": "格力商用 KFR-120"}, None)
    assert prioritise(install, commercial) == (1, install.priority_rules[0])
    assert prioritise(install, ticket_subject("install", {"product_model": "KFR-35GW"}, None)) is None


def test_a_vip_customers_install_is_made_urgent_at_creation(acme: TenantConfig) -> None:
    install = with_vip_rule(acme).ticket_types["install"]
    fields = {**factories.INSTALL_FIELDS, "priority": "normal"}
    subject = {**ticket_subject("install", fields, None), "customer": {"tier": "VIP"}}
    assert prioritise(install, subject) == (1, install.priority_rules[0])
    assert prioritise(install, {**subject, "customer": {"tier": "regular"}}) is None
    assert prioritise(install, ticket_subject("install", fields, None)) is None  # no customer: missing


def test_create_applies_the_rule_and_says_so_in_the_history(acme: TenantConfig) -> None:
    deps = service.Deps(tickets=FakeTickets(), engine=FakeEngine())
    deps.customers = OneCustomer(vip())  # type: ignore[assignment]
    import functions.ticket.customers as customers

    resolved = customers.resolve
    customers.resolve = lambda *_a, **_k: "C-1"  # type: ignore[assignment]
    try:
        customers_record = customers.record_ticket
        customers.record_ticket = lambda *_a, **_k: None  # type: ignore[assignment]
        ticket = create_ticket(
            deps, with_vip_rule(acme), "u-lin", "install", {**factories.INSTALL_FIELDS, "priority": "normal"}
        )
    finally:
        customers.resolve = resolved  # type: ignore[assignment]
        customers.record_ticket = customers_record  # type: ignore[assignment]
    assert ticket.fields["priority"] == "urgent" and ticket.customer_id == "C-1"
    [created] = deps.tickets.history("acme-home", ticket.id)
    assert created.changes["priority_rule"] == {"rule": 1, "priority": "urgent"}


def test_a_rule_can_pin_another_sla_policy(acme: TenantConfig) -> None:
    install = acme.ticket_types["install"]
    rule = PriorityRule.model_validate(
        {"when": {"path": "ticket.fields.product_model", "matches": "KFR-*"}, "sla": "install-standard"}
    )
    changed = install.model_copy(update={"priority_rules": [rule]})
    found = prioritise(changed, ticket_subject("install", {"product_model": "KFR-35GW"}, "shopify-main"))
    assert found is not None and found[1].sla == "install-standard" and found[1].priority is None


def test_the_decision_tasks_facts_carry_only_what_its_rules_read(acme: TenantConfig) -> None:
    deps = service.Deps(tickets=FakeTickets(), engine=FakeEngine())
    deps.customers = OneCustomer(vip(tier=None))  # type: ignore[assignment]
    ticket = factories.ticket(
        "TK-7",
        at=AT,
        ticket_type="callback",
        node="call",
        fields={"customer_name": "吴女士", "customer_phone": "+8613900000078", "satisfied": "yes"},
        customer_id="C-1",
    )
    deps.tickets.create(ticket, factories.created_event(ticket))
    answer = step(deps, acme, "TK-7", "triage")
    assert answer["rule"] is None and answer["next"] == "done"
    assert answer["facts"] == {"ticket": {"fields": {"satisfied": "yes"}}}  # no tier: the path is missing
    stored = deps.tickets.get("acme-home", "TK-7")
    assert stored.node == "triage" and stored.visits["triage"] == 1 and stored.version == ticket.version


def test_the_decision_is_one_choice_on_the_facts_the_steps_carry(acme: TenantConfig) -> None:
    states = compile_definition(acme.ticket_types["callback"], "acme-home", "callback")["States"]
    choice = states["triage"]
    assert choice["Type"] == "Choice" and choice["Default"] == "done"
    # no facts: read them first (a Task), then back; then the rules in file order
    assert [c["Next"] for c in choice["Choices"]] == ["triage.refresh", "review"]
    assert states["triage.refresh"]["Next"] == "triage"
    assert states["call"]["Next"] == "triage" and states["call"]["ResultPath"] == "$.result"
    # the system Tasks of a type with decisions keep the facts the last action left
    assert states["done"]["ResultPath"] is None


def _with_decision(rules: list[dict[str, Any]], default: str = "done") -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["ticket_types"]["callback"]["nodes"]["triage"] = {
        "kind": "decision",
        "rules": rules,
        "default": default,
    }
    return data


def test_scrm_validate_names_each_bad_rule_where_it_is() -> None:
    data = _with_decision(
        [
            {"when": {"path": "ticket.fields.satisfed", "equals": "no"}, "next": "review"},
            {"when": {"path": "customer.tier", "gte": 3}, "next": "reviw"},
            {"when": {"all": []}, "next": "review"},
            {"when": {"path": "customer.tier", "equals": "VIP"}, "next": "review"},
        ],
        default="donee",
    )
    data["ticket_types"]["install"]["priority_rules"] = [
        {"when": {"path": "customer.tier", "equals": "VIP"}, "priority": "urgnt", "sla": "install-standrd"}
    ]
    config, problems = validate_tenant_data(data)
    assert config is None
    said = [(p.path, p.message) for p in problems]

    def has(path: str, text: str) -> bool:
        return any(where == path and text in message for where, message in said)

    node = "ticket_types.callback.nodes.triage"
    assert has(f"{node}.rules.0.when.path", "did you mean 'ticket.fields.satisfied'")
    assert has(f"{node}.rules.1.when.gte", "") or any("rules.1.when" in p and "gte" in m for p, m in said)
    assert any("reviw" in m and "review" in m for _p, m in said)  # a next that is no node
    assert any("donee" in m for _p, m in said)
    assert has(f"{node}.rules.3", "never applies")
    assert has("ticket_types.install.priority_rules.0.priority", "did you mean 'urgent'")
    assert has("ticket_types.install.priority_rules.0.sla", "install-standard")


rule_lists = st.lists(
    st.tuples(
        st.sampled_from(["yes", "no", None]),
        st.sampled_from(["VIP", "regular", None]),
        st.sampled_from(["review", "done", "call"]),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=40, deadline=None)
@given(
    rules=rule_lists, satisfied=st.sampled_from(["yes", "no"]), tier=st.sampled_from(["VIP", "regular", None])
)
def test_generated_decisions_validate_and_the_task_names_the_rule_the_choice_takes(
    rules: list[tuple[str | None, str | None, str]], satisfied: str, tier: str | None
) -> None:
    written = []
    for answer, wanted_tier, target in rules:
        parts: list[dict[str, Any]] = []
        if answer is not None:
            parts.append({"path": "ticket.fields.satisfied", "equals": answer})
        if wanted_tier is not None:
            parts.append({"path": "customer.tier", "equals": wanted_tier})
        written.append({"when": parts, "next": target})
    written.append(
        {"when": {"path": "ticket.node", "equals": "nowhere"}, "next": "review"}
    )  # keep it reachable
    config, problems = validate_tenant_data(_with_decision(written))
    assert config is not None, [p.message for p in problems if p.severity == "error"]
    node = config.ticket_types["callback"].nodes["triage"]
    # the Task's evaluation (its history line) and the rules' meaning agree, in file order
    subject = {"ticket": {"fields": {"satisfied": satisfied}}, "customer": {"tier": tier} if tier else {}}
    expected = next((r.next for r in node.rules if evaluate(r.when, subject)), node.default)
    deps = service.Deps(tickets=FakeTickets(), engine=FakeEngine())
    deps.customers = OneCustomer(vip(tier))  # type: ignore[assignment]
    ticket = factories.ticket(
        "TK-8", at=AT, ticket_type="callback", node="call", fields={"satisfied": satisfied}, customer_id="C-1"
    )
    deps.tickets.create(ticket, factories.created_event(ticket))
    assert step(deps, config, "TK-8", "triage")["next"] == expected


def test_decisions_in_a_circle_with_no_step_between_are_refused() -> None:
    data = _with_decision(
        [{"when": {"path": "customer.tier", "equals": "VIP"}, "next": "review"}], default="again"
    )
    data["ticket_types"]["callback"]["nodes"]["again"] = {
        "kind": "decision",
        "rules": [{"when": {"path": "ticket.priority", "exists": True}, "next": "review"}],
        "default": "done",
    }
    assert validate_tenant_data(data)[0] is not None  # two decisions in a row: fine
    data["ticket_types"]["callback"]["nodes"]["again"]["default"] = "triage"
    config, problems = validate_tenant_data(data)
    assert config is None
    assert any("decide for ever" in p.message and "triage -> again -> triage" in p.message for p in problems)


def test_an_action_carries_the_facts_a_decision_downstream_reads(acme: TenantConfig) -> None:
    from shared.workflow.resume import resume
    from shared.workflow.routing import CATCH_ROUTING

    engine = FakeEngine()
    node = acme.ticket_types["callback"].nodes["call"]
    facts = {"ticket": {"fields": {"satisfied": "no"}}}
    resume(engine, "tok-1", node, "call", "called", CATCH_ROUTING, ["called"], facts)
    assert engine.resumed == [("tok-1", {"action": "called", "node": "call", "facts": facts})]
    on_site = acme.ticket_types["install"].nodes["on_site"]
    resume(engine, "tok-2", on_site, "on_site", "need_parts", CATCH_ROUTING, ["complete"], facts)
    [(_token, error, cause)] = engine.failed
    assert error == "Scrm.Route.need_parts"
    assert cause == {**facts, "action": "need_parts", "node": "on_site"}  # parsed by the facts Pass
