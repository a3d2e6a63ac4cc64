"""Who works a human node: `ticket_types.*.nodes.*.assignee`.

Keys checked:

- `assignee.role`: a built-in role or one a user holds; warning when no user holds it
  (only admins could work the node);
- `assignee.user`: an id of `users`;
- `assignee.department`: the `department` of some user;
- `assignee.technician`: an id of `technicians`, or `assigned` when the ticket type has a
  dispatch node or a field of type technician.
"""

from __future__ import annotations

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import join
from shared.tenant.models import Node, TicketType

__all__ = ["check_assignee"]


def check_assignee(ctx: Context, path: str, node: Node, spec: TicketType) -> None:
    """The assignee of `node` (at `path`, in ticket type `spec`), if it has one."""
    assignee, known = node.assignee, ctx.known
    if assignee is None:
        return
    path = join(path, "assignee")
    if assignee.role is not None:
        fix = "give the role to a user under users or fix the name"
        found = ctx.ref(join(path, "role"), "role", assignee.role, known.roles, fix)
        unheld = assignee.role not in known.held_roles | {"admin", "technician"}
        if found and known.users is not None and unheld:
            ctx.warn(
                join(path, "role"),
                f"no user has role {assignee.role!r}, so only admins can work this node; "
                "give the role to a user",
            )
    if assignee.user is not None:
        ctx.ref(join(path, "user"), "user", assignee.user, known.users, "use a user id from users")
    if assignee.department is not None:
        ctx.ref(
            join(path, "department"),
            "department",
            assignee.department,
            known.departments,
            "set department: on the users of that department",
        )
    if assignee.technician is None:
        return
    if not assignee.is_dispatched_technician:
        ctx.ref(
            join(path, "technician"),
            "technician",
            assignee.technician,
            known.technicians,
            "use 'assigned' (the dispatched technician) or a technician id",
        )
    elif not _sets_technician(spec):
        ctx.error(
            join(path, "technician"),
            "'assigned' means the dispatched technician, but this ticket type has no dispatch "
            "node and no technician field; add a dispatch node (or a form field of type "
            "technician) before this node",
        )


def _sets_technician(spec: TicketType) -> bool:
    """Whether anything in the ticket type picks a technician (a dispatch node or a technician field)."""
    fields = [*spec.fields, *(f for node in spec.nodes.values() for f in node.form)]
    return any(node.kind == "dispatch" for node in spec.nodes.values()) or any(
        f.type == "technician" for f in fields
    )
