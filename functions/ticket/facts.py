"""What the tenant file's rules see of a ticket: its own fields, priority and channel, and its
customer's tier, tags and counters (``shared.rules.conditions`` paths ``ticket.*`` and
``customer.*``).

Read at creation for ``priority_rules`` (``prioritise``), and for the ``decision`` nodes' Choices
(``workflow_facts``): carried in the execution's data at ``$.result.facts`` by the start, by each
person's action and, when none reached a decision, by its refresh Task
(``shared.workflow.decision``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.rules.conditions import choice_input, evaluate, subject_paths

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.domain.ticket import Ticket
    from shared.tenant.models import PriorityRule, TenantConfig, TicketType


def ticket_subject(
    type_id: str, fields: dict[str, Any], channel: str | None, status: str = "open", node: str | None = None
) -> dict[str, Any]:
    return {
        "ticket": {
            "type": type_id,
            "priority": fields.get("priority"),
            "channel": channel,
            "status": status,
            "node": node,
            "fields": dict(fields),
        }
    }


def customer_subject(deps: Deps, tenant: str, customer_id: str | None) -> dict[str, Any]:
    """The customer's part of the facts (empty without a customer: its paths are then missing)."""
    if deps.customers is None or customer_id is None:
        return {}
    from shared.domain.customer import subject

    customer = deps.customers.find(tenant, customer_id)
    return subject(customer, customer.tier) if customer is not None else {}


def facts_of(deps: Deps, ticket: Ticket) -> dict[str, Any]:
    """Everything a condition may read about ``ticket`` now."""
    return {
        **ticket_subject(ticket.type, ticket.fields, ticket.channel, ticket.status, ticket.node),
        **customer_subject(deps, ticket.tenant, ticket.customer_id),
    }


def workflow_facts(
    deps: Deps, cfg: TenantConfig, ticket: Ticket, seen: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The facts the decision nodes of the ticket's type read, as their Choices read them: only the
    paths their rules name (the execution's data stays small), numbers as JSON numbers, lists also
    as sets. None for a type without decisions (nothing is read then). ``seen``: ``facts_of`` the
    ticket, when the caller read them already."""
    from shared.workflow.decision import has_decisions, type_fact_paths

    kind = cfg.ticket_types.get(ticket.type)
    if kind is None or not has_decisions(kind):
        return None
    known = subject_paths(ticket_fields=kind.field_types(filled=True))
    paths = {path: known[path] for path in type_fact_paths(kind) if path in known}
    return choice_input(facts_of(deps, ticket) if seen is None else seen, paths)


def prioritise(ticket_type: TicketType, subject: dict[str, Any]) -> tuple[int, PriorityRule] | None:
    """The first of the type's ``priority_rules`` that holds (its number from 1, and the rule)."""
    for number, rule in enumerate(ticket_type.priority_rules, start=1):
        if evaluate(rule.when, subject):
            return number, rule
    return None
