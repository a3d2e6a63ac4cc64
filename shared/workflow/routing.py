"""How a node's ways out are taken: the one vocabulary of the compiler, the park task and the resumer.

Pure and small on purpose: the ticket API imports this (never the ASL compiler) to decide how an
action resumes a parked task, from what the compiled Task payload said at park time.

- A node's ways out keep the tenant file's order (``outgoing``). Its first way out is the
  **primary** one: the Task's ``Next``, taken by succeeding, and (for a human node) the action
  that needs the full form.
- Every other label whose target differs from the primary's is a Catch on ``route_error(label)``,
  taken by ``SendTaskFailure``; labels leading where the primary leads are sent as success.
- An action from a node worked by the dispatched technician back to a ``dispatch`` node is a
  **decline**: dispatch runs again without that technician (whatever the action is called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.tenant.models import Node, TicketType

MAX_NODE_VISITS = 50
LOOP_LIMIT_ERROR = "Scrm.LoopLimitExceeded"
CATCH_ROUTING = "catch"
"""``routing`` of a Task payload whose non-primary ways out are Catch entries on route errors."""
ROUTE_ERROR_PREFIX = "Scrm.Route."
RESUME_STATE = "Resume?"
"""The entry Choice of every compiled workflow: a retried ticket starts at ``$.resume_at``.

Not a valid node name (node names are ``[A-Za-z][A-Za-z0-9_-]*``), so it never clashes."""


def route_error(label: str) -> str:
    """The error that sends a Task along its non-primary way out ``label``."""
    return f"{ROUTE_ERROR_PREFIX}{label}"


def outgoing(node: Node) -> dict[str, str]:
    """Label -> target for every way out of a node, in file order."""
    if node.kind == "human":
        return dict(node.actions)
    out: dict[str, str] = {}
    if node.next:
        out["done"] = node.next
    if node.kind == "dispatch" and node.on_no_candidate:
        out["no_candidate"] = node.on_no_candidate
    return out


def primary_label(node: Node) -> str | None:
    """The node's first way out in file order (None for an ``end`` node)."""
    return next(iter(outgoing(node)), None)


def success_labels(node: Node) -> list[str]:
    """The labels taken by succeeding: the primary one and any leading to the same target."""
    targets = outgoing(node)
    if not targets:
        return []
    primary = next(iter(targets.values()))
    return [label for label, target in targets.items() if target == primary]


def is_decline(ticket_type: TicketType, node_name: str, action: str) -> bool:
    """``action`` of ``node_name`` hands a dispatched ticket back to a dispatch node."""
    node = ticket_type.nodes.get(node_name)
    if node is None or node.kind != "human" or node.assignee is None:
        return False
    if not node.assignee.is_dispatched_technician:
        return False
    target = ticket_type.nodes.get(node.actions.get(action, ""))
    return target is not None and target.kind == "dispatch"


def decline_action(ticket_type: TicketType, node_name: str) -> str | None:
    """The node's first action that declines (see ``is_decline``), for an offer that expired."""
    node = ticket_type.nodes.get(node_name)
    if node is None:
        return None
    return next((a for a in node.actions if is_decline(ticket_type, node_name, a)), None)
