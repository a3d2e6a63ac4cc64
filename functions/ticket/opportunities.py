"""Opportunities (工单商机联动): opened by the tenant's ``opportunity_rules`` on ticket events,
worked through ``/opportunities``.

- ``open_opportunities`` (a ticket ``created``: ``create.py``; ``closed``: ``step.py``'s end node):
  every rule of the ticket's type for that event whose ``when`` holds on the ticket's facts
  (``facts.facts_of``: fields, priority, channel, customer tier and tags) opens one opportunity,
  with its ``opportunity.created`` event in the same transaction. The id comes from the ticket and
  the rule, so a retried step or intake opens nothing more. The end node calls it before the
  ticket is closed: a step retried after a failure finds the ticket still open and tries again
  (the close itself is what ends the retries).
- Each opportunity goes on its customer's timeline (``opportunity_opened``, and later
  ``opportunity_won``/``opportunity_lost``), at the instant stored, so a retry adds no second entry.
- ``act``: ``win``, ``lose`` (with a reason) and ``assign`` (to a user) on an open opportunity, at
  the version read (or the one the caller names): two concurrent wins give one 200 and one 409.

Who: staff and ``sales`` see every opportunity of their tenant; ``sales``, supervisors, admins and
the opportunity's owner (its user, or a holder of its role) act on it; anyone else gets 404 / 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from functions.ticket.access import STAFF_ROLES
from shared.clock import now
from shared.domain import opportunity as domain
from shared.domain.events import OpportunityCreated, OpportunityLost, OpportunityWon, make_event
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.domain.events import DomainEvent
    from shared.domain.opportunity import Opportunity
    from shared.domain.ticket import Ticket
    from shared.identity import Caller
    from shared.ports import CustomerStore, OpportunityStore
    from shared.tenant.models import TenantConfig

VIEWER_ROLES = (*STAFF_ROLES, "sales")
"""See every opportunity of their tenant."""
WORKER_ROLES = ("sales", "supervisor", "admin")
"""Act on any opportunity (its owner may too)."""


def open_opportunities(deps: Deps, cfg: TenantConfig, ticket: Ticket, event: str, at: datetime) -> list[str]:
    """Open the opportunities the rules of ``ticket``'s type give for ``event`` (``created`` or
    ``closed``); their ids, those opened before included (idempotent)."""
    store = deps.opportunities
    rules = [r for r in cfg.ticket_types[ticket.type].opportunity_rules if r.event == event]
    if store is None or not rules:
        return []  # no read, no write for the types without rules
    from functions.ticket.facts import facts_of
    from shared.rules.conditions import evaluate

    facts = facts_of(deps, ticket)
    opened: list[str] = []
    for rule in rules:
        if rule.when is not None and not evaluate(rule.when, facts):
            continue
        opp = domain.opened(
            tenant=ticket.tenant,
            ticket_id=ticket.id,
            ticket_type=ticket.type,
            rule=rule.id,
            kind=rule.kind,
            amount=rule.amount,
            currency=cfg.tenant.currency,
            owner=rule.owner.ref,
            customer_id=ticket.customer_id,
            at=at,
        )
        data = OpportunityCreated(
            opportunity_id=opp.id,
            customer_id=opp.customer_id,
            ticket_id=opp.ticket_id,
            kind=opp.kind,
            amount=opp.amount,
            owner=opp.owner,
        )
        if store.create(opp, _event("opportunity.created", opp, at, data)):
            _measure(opp)
        else:
            opp = store.get(ticket.tenant, opp.id)  # opened by an earlier try: its instant
        _on_timeline(deps.customers, opp, "opportunity_opened", opp.created_at, channel=ticket.channel)
        opened.append(opp.id)
    return opened


def visible(store: OpportunityStore, caller: Caller, opportunity_id: str) -> Opportunity:
    """The opportunity if the caller may see it (staff, sales, or its owner); else ``NotFound``."""
    opp = store.get(caller.tenant, opportunity_id)
    if caller.has_any(*VIEWER_ROLES) or _owns(caller, opp):
        return opp
    raise NotFound(f"opportunity '{opportunity_id}' does not exist")


def list_scope(caller: Caller, owner: str | None) -> str | None:
    """Staff and sales list anyone's; others only their own (``owner`` defaults to them)."""
    if caller.has_any(*VIEWER_ROLES):
        return owner
    if owner not in (None, caller.sub):
        raise Forbidden("you can list only the opportunities assigned to you")
    return caller.sub


def act(
    deps: Deps,
    cfg: TenantConfig,
    caller: Caller,
    opportunity_id: str,
    action: str,
    *,
    reason: str | None = None,
    user: str | None = None,
    version: int | None = None,
) -> Opportunity:
    """``win``, ``lose`` or ``assign`` the opportunity, with its event; ``Conflict`` when it is not
    open or moved meanwhile (or is not at ``version``)."""
    store = _store(deps)
    opp = visible(store, caller, opportunity_id)
    if not (caller.has_any(*WORKER_ROLES) or _owns(caller, opp)):
        raise Forbidden(
            f"working opportunity '{opp.id}' needs one of the roles {', '.join(WORKER_ROLES)}, or to own it"
        )
    if version is not None and version != opp.version:
        raise Conflict(f"opportunity '{opp.id}' is at version {opp.version}, not {version}; read it again")
    at = now()
    data: Any
    if action == "win":
        moved = domain.win(opp, caller.sub, at)
        name, kind = "opportunity.won", "opportunity_won"
        data = OpportunityWon(
            opportunity_id=opp.id, customer_id=opp.customer_id, amount=opp.amount, actor=caller.sub
        )
    elif action == "lose":
        moved = domain.lose(opp, caller.sub, at, reason)
        name, kind = "opportunity.lost", "opportunity_lost"
        data = OpportunityLost(
            opportunity_id=opp.id, customer_id=opp.customer_id, reason=moved.lost_reason, actor=caller.sub
        )
    elif action == "assign":
        if not user:
            raise ValidationFailed(
                "assigning an opportunity needs the user to assign it to",
                [{"field": "user", "message": 'give a user id of the tenant, e.g. "u-zhao"'}],
            )
        moved = domain.assign(opp, caller.sub, at, user, (u.id for u in cfg.users))
        return store.save(moved, expected_version=opp.version)  # no domain event for a hand-over
    else:  # the request model allows only the three; a bug otherwise
        raise ValidationFailed(
            f"unknown action {action!r}", [{"field": "action", "message": "win, lose or assign"}]
        )
    saved = store.save(moved, expected_version=opp.version, event=_event(name, moved, at, data))
    _measure(saved)
    _on_timeline(deps.customers, saved, kind, at)
    return saved


def _measure(opp: Opportunity) -> None:
    """The pipeline on the tenant's dashboard: one more opportunity (and its amount) at its stage."""
    from shared import metrics as catalogue
    from shared.observability import emit_metric

    dims = {"tenant": opp.tenant, "kind": opp.kind, "stage": opp.stage}
    emit_metric(catalogue.OPPORTUNITIES, 1, **dims)
    if opp.amount is not None:
        emit_metric(catalogue.OPPORTUNITY_AMOUNT, float(opp.amount), **dims)


def _store(deps: Deps) -> OpportunityStore:
    if deps.opportunities is None:
        raise NotFound("opportunities are not kept here")
    return deps.opportunities


def _owns(caller: Caller, opp: Opportunity) -> bool:
    if opp.owner.startswith(domain.ROLE_PREFIX):
        return opp.owner.removeprefix(domain.ROLE_PREFIX) in caller.roles
    return opp.owner == caller.sub


def _event(name: str, opp: Opportunity, at: datetime, data: Any) -> DomainEvent:
    return make_event(name, opp.tenant, (opp.tenant, name, opp.id), at, data)


def _on_timeline(
    customers: CustomerStore | None, opp: Opportunity, kind: str, at: datetime, channel: str | None = None
) -> None:
    """The opportunity on its customer's timeline (the survivor's, if merged since); once."""
    if customers is None or opp.customer_id is None:
        return
    from functions.ticket.customers import live
    from shared.domain.customer import TimelineEntry

    customer = live(customers, opp.tenant, opp.customer_id)
    summary = {"kind": opp.kind, "ticket_id": opp.ticket_id, "status": opp.status}
    if opp.amount is not None:
        summary["amount"] = str(opp.amount)
    entry = TimelineEntry(at=at, kind=kind, ref=opp.id, channel=channel, summary=summary)
    customers.record(opp.tenant, customer.id, entry)
