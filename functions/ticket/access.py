"""Who may see, list, act on and change a ticket (the roles of the tenant file's ``users``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.domain.ticket import Assignee, Ticket
    from shared.identity import Caller
    from shared.tenant.models import Node, TenantConfig

CREATOR_ROLES = ("agent", "dispatcher", "admin", "supervisor")
"""Create and cancel tickets."""
STAFF_ROLES = (*CREATOR_ROLES, "finance")
"""See every ticket of their tenant (a technician sees only those dispatched to them)."""
FIELD_EDITOR_ROLES = ("agent", "dispatcher", "supervisor", "admin")
"""Fill in or correct a ticket's own fields."""
RETRY_ROLES = ("dispatcher", "admin")
"""Start a failed ticket again."""


def assignee_for(node: Node, ticket: Ticket) -> Assignee | None:
    """The node's assignee rule for this ticket (``technician: assigned``: the dispatched one)."""
    from shared.domain.ticket import Assignee

    rule = node.assignee
    if rule is None:
        return None
    if rule.user:
        return Assignee(kind="user", id=rule.user)
    if rule.role:
        return Assignee(kind="role", id=rule.role)
    if rule.department:
        return Assignee(kind="department", id=rule.department)
    if rule.technician == "assigned":
        technician = (ticket.dispatch or {}).get("technician")
        return Assignee(kind="technician", id=technician) if technician else None
    return Assignee(kind="technician", id=str(rule.technician))


def may_act(caller: Caller, assignee: Assignee | None, cfg: TenantConfig) -> bool:
    if "admin" in caller.roles:
        return True
    if assignee is None:
        return False
    if assignee.kind in ("user", "technician"):
        return caller.sub == assignee.id
    if assignee.kind == "role":
        return assignee.id in caller.roles
    departments = {u.id: getattr(u, "department", None) for u in cfg.users}
    return departments.get(caller.sub) == assignee.id


def visible_ticket(deps: Deps, caller: Caller, ticket_id: str) -> Ticket:
    """The ticket if the caller may see it: staff see their tenant's tickets, a technician only
    those dispatched to them. Anything else is ``NotFound`` (no hint that the ticket exists)."""
    ticket = deps.tickets.get(caller.tenant, ticket_id)
    if caller.has_any(*STAFF_ROLES) or (ticket.dispatch or {}).get("technician") == caller.sub:
        return ticket
    raise NotFound(f"ticket '{ticket_id}' does not exist")


def list_scope(caller: Caller, assignee: str | None) -> str | None:
    """Staff list any assignee's tickets; a technician (or anyone else) only their own."""
    if caller.has_any(*STAFF_ROLES):
        return assignee
    if assignee not in (None, caller.sub):
        raise Forbidden("you can list only the tickets assigned to you")
    return caller.sub
