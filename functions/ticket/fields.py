"""Fill in or correct a ticket's own fields (``PATCH /tickets/{id}/fields``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.ticket.access import FIELD_EDITOR_ROLES
from functions.ticket.rules import optional, stale
from shared.domain.ticket import Change, Ticket
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.ticket_updates import update_ticket
from shared.workflow.forms import form_context, validate_form

if TYPE_CHECKING:
    from functions.ticket.deps import Deps
    from shared.identity import Caller
    from shared.tenant.models import TenantConfig


def update_fields(
    deps: Deps, cfg: TenantConfig, caller: Caller, ticket_id: str, fields: dict[str, Any], version: int
) -> Ticket:
    """Fill in or correct the ticket's own fields (an incomplete ticket from a platform or a hand-off,
    or a failed one before its retry), by the type's field rules; every change is in the history.

    A value of ``null`` clears an optional field; a required field cannot be cleared.
    """
    if not caller.has_any(*FIELD_EDITOR_ROLES):
        raise Forbidden(
            "changing ticket fields needs one of the roles agent, dispatcher, supervisor or admin"
        )
    ticket = deps.tickets.get(cfg.tenant.id, ticket_id)
    if ticket.status not in ("open", "failed"):
        raise Conflict(f"ticket {ticket_id} is {ticket.status}; only open or failed tickets can be changed")
    if version != ticket.version:
        raise Conflict(f"stale version {version}: the ticket is at version {ticket.version}; read it again")
    specs = cfg.ticket_types[ticket.type].fields
    given = {k: v for k, v in fields.items() if v is not None}
    cleared = [k for k, v in fields.items() if v is None]
    accepted, problems = validate_form([optional(f) for f in specs], given, form_context(cfg))
    accepted = {k: v for k, v in accepted.items() if k in given}  # no defaults for what was not sent
    by_name = {f.name: f for f in specs}
    for name in cleared:
        if name not in by_name:
            problems.append({"field": name[:64], "message": "is not a field of this ticket type"})
        elif by_name[name].required:
            problems.append({"field": name, "message": "is required and cannot be cleared"})
    if problems:
        raise ValidationFailed(
            f"{len(problems)} field(s) of the {ticket.type} ticket are not valid", problems
        )
    values = {k: v for k, v in {**ticket.fields, **accepted}.items() if k not in cleared}
    changed = {k: v for k, v in values.items() if ticket.fields.get(k) != v}
    changed.update({k: None for k in cleared if k in ticket.fields})
    missing = [f.name for f in specs if f.required and f.name not in values]
    rejected = {
        k: v for k, v in ((ticket.incomplete or {}).get("rejected") or {}).items() if k not in changed
    }
    change = Change(
        kind="fields_changed",
        update={
            "fields": values,
            "incomplete": ({"missing": missing, "rejected": rejected} if missing or rejected else None),
        },
        actor=caller.sub,
        node=ticket.node,
        changes={"fields": changed, "missing": missing},
    )
    return update_ticket(
        deps.tickets,
        ticket.tenant,
        ticket.id,
        lambda _: change,
        read=ticket,
        expected_version=version,
        stale=stale(version, ticket_id),
    )
