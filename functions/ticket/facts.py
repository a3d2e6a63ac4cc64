"""What the tenant file's rules see of a ticket: its own fields, priority and channel, and its
customer's tier, tags and counters (``shared.rules.conditions`` paths ``ticket.*`` and
``customer.*``).

Read at creation for ``priority_rules`` (``prioritise``) and by a ``decision`` node's Task, which
answers them to the node's Choice (``decision_facts``: the execution's data, ``$.decision.facts``,
shaped by ``choice_input`` so the compiled rules can read them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.rules.conditions import choice_input, evaluate, subject_paths

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.domain.ticket import Ticket
    from shared.tenant.models import Node, PriorityRule, TenantConfig, TicketType


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


def decision_facts(deps: Deps, cfg: TenantConfig, ticket: Ticket, node: Node) -> dict[str, Any]:
    """The facts as a decision node's Choice reads them: only the paths its rules name (the
    execution's data stays small), numbers as JSON numbers, lists also as sets."""
    from shared.workflow.decision import fact_paths

    kind = cfg.ticket_types[ticket.type]
    filled = {f.name: f.type for step in kind.nodes.values() for f in step.form}
    known = subject_paths(ticket_fields={**filled, **{f.name: f.type for f in kind.fields}})
    paths = {path: known[path] for path in fact_paths(node) if path in known}
    return choice_input(facts_of(deps, ticket), paths)


def prioritise(ticket_type: TicketType, subject: dict[str, Any]) -> tuple[int, PriorityRule] | None:
    """The first of the type's ``priority_rules`` that holds (its number from 1, and the rule)."""
    for number, rule in enumerate(ticket_type.priority_rules, start=1):
        if evaluate(rule.when, subject):
            return number, rule
    return None
