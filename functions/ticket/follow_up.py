"""A follow-up's schedule fired (``scrm-ticket-follow-up``): open the linked ticket it plans.

The schedule was created when the event happened (``shared.follow_ups``); by now the source
ticket may have been cancelled (the follow-up is dropped), the tenant file may have lost the
follow-up or its ticket type (the entry is marked ``failed`` with the reason, for a person to
see on the source ticket), or the schedule may be a retry (the ticket it opened is answered
again: its id is ``<source id>-<key>``, so it is never opened twice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.create import create_ticket
from functions.ticket.rules import inherited
from shared.domain.follow_ups import CANCELLED, CREATED, FAILED, PENDING, child_id
from shared.domain.ticket import Change, Ticket
from shared.errors import NotFound, ValidationFailed
from shared.ticket_updates import update_ticket

if TYPE_CHECKING:
    from datetime import datetime

    from functions.ticket.deps import Deps
    from shared.tenant.models import FollowUp, TenantConfig


def plan_follow_ups(
    deps: Deps, cfg: TenantConfig, ticket: Ticket, event: str, instant: datetime
) -> list[dict[str, Any]]:
    """The follow-ups `event` starts, their schedules already created (before the ticket that names
    them is saved: a schedule whose entry never got saved finds nothing to do and is dropped)."""
    if deps.follow_ups is None:
        return []
    planned = deps.follow_ups.plan(cfg, ticket, event, instant)
    deps.follow_ups.schedule(ticket, planned, instant)
    return planned


def open_follow_up(deps: Deps, cfg: TenantConfig, ticket_id: str, key: str) -> dict[str, Any]:
    from shared.follow_ups import follow_up_of  # the calendars: only this function's work needs them

    source = deps.tickets.find(cfg.tenant.id, ticket_id)
    if source is None:
        return {"outcome": "stale", "reason": f"ticket {ticket_id} does not exist"}
    found = follow_up_of(cfg, source, key)
    if found is None:
        return {
            "outcome": "stale",
            "reason": f"follow-up {key!r} is not planned on {ticket_id}, or not in the tenant file",
        }
    entry, definition = found
    if entry.get("status") == CREATED:
        return {"outcome": "created", "ticket": entry.get("ticket")}
    if entry.get("status") != PENDING or source.status == "cancelled":
        _mark(deps, source, key, {"status": CANCELLED})
        return {"outcome": "cancelled", "reason": f"ticket {ticket_id} is {source.status}"}
    if definition.ticket_type not in cfg.ticket_types:
        reason = f"the tenant file has no ticket type {definition.ticket_type!r} any more"
        _mark(deps, source, key, {"status": FAILED, "reason": reason})
        return {"outcome": "failed", "reason": reason}
    try:
        fields = _fields(cfg, definition, source)
        child = create_ticket(
            deps,
            cfg,
            source.id,
            definition.ticket_type,
            fields,
            ticket_id=child_id(source.id, key),
            channel=source.channel,
            parent_id=source.id,
            lenient=True,
            customer_id=source.customer_id,
        )
    except (NotFound, ValidationFailed) as exc:
        reason = f"the follow-up could not open a {definition.ticket_type} ticket: {exc}"
        _mark(deps, source, key, {"status": FAILED, "reason": reason})
        return {"outcome": "failed", "reason": reason}
    _mark(deps, source, key, {"status": CREATED, "ticket": child.id}, child=child.id)
    return {"outcome": "created", "ticket": child.id}


def _fields(cfg: TenantConfig, definition: FollowUp, source: Ticket) -> dict[str, Any]:
    """The new ticket's fields: the follow-up's JMESPath mapping over the source ticket, else the
    source's fields the new type also has."""
    if not definition.fields:
        return inherited(cfg, definition.ticket_type, source)
    import jmespath
    from jmespath.exceptions import JMESPathError

    document = source.model_dump(mode="json", exclude={"token", "route_success", "routing"})
    found: dict[str, Any] = {}
    for name, expression in definition.fields.items():
        try:
            value = jmespath.search(expression, document)
        except JMESPathError as exc:  # validated at deploy; a file changed since may still be wrong
            raise ValidationFailed(
                f"fields.{name}: {expression!r} is not a JMESPath expression: {exc}"
            ) from None
        if value is not None:
            found[name] = value
    return found


def _mark(deps: Deps, source: Ticket, key: str, update: dict[str, Any], child: str | None = None) -> None:
    """Record what became of the follow-up on the source ticket (bookkeeping: its version stays)."""

    def decide(ticket: Ticket) -> Change | None:
        entries = [dict(e, **update) if e.get("key") == key else e for e in ticket.follow_ups]
        if entries == ticket.follow_ups:
            return None
        changes: dict[str, Any] = {"follow_up": key, **update}
        changed: dict[str, Any] = {"follow_ups": entries}
        if child is not None and child not in ticket.children:
            changed["children"] = [*ticket.children, child]
        return Change(kind="follow_up", update=changed, node=ticket.node, changes=changes, bump=False)

    update_ticket(deps.tickets, source.tenant, source.id, decide, attempts=5)
