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
- A retried ticket (``resume_at`` = a node in the execution input) starts at the type's start node,
  whose Task catches ``resume_error(node)`` for every other node and goes there
  (``resume_target``): no entry Choice, so a first start costs no extra state transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.tenant.models import Node, TicketType

MAX_NODE_VISITS = 50
LOOP_LIMIT_ERROR = "Scrm.LoopLimitExceeded"
CATCH_ROUTING = "catch"
"""``routing`` of a Task payload whose non-primary ways out are Catch entries on route errors."""
ROUTE_ERROR_PREFIX = "Scrm.Route."
RESUME_ERROR_PREFIX = "Scrm.Resume."
RESUME_STATE = "Resume?"
"""The entry Choice of workflows compiled before resumes went through the start node's Catch: a
retried ticket started at ``$.resume_at``. Versions compiled that way may still be live (or run old
executions); the retry's input (``resume_at``) is the same for both shapes, so both still resume.

Not a valid node name (node names are ``[A-Za-z][A-Za-z0-9_-]*``), so it never clashed."""


def route_error(label: str) -> str:
    """The error that sends a Task along its non-primary way out ``label``."""
    return f"{ROUTE_ERROR_PREFIX}{label}"


def resume_error(node_name: str) -> str:
    """The error that sends a start node's Task to ``node_name`` (a retried ticket's resume)."""
    return f"{RESUME_ERROR_PREFIX}{node_name}"


def resume_target(event: Mapping[str, Any], ticket_type: TicketType) -> str | None:
    """The node a start node's task must hand the execution to, or None to run the node itself.

    ``event["resume_at"]`` is the execution input's (``$.resume_at``, passed only to the start
    node's Task). It is a node name only on the first visit of a retried execution: the Catch that
    takes the resume writes its error over ``$.resume_at`` (``ResultPath``), so when the execution
    loops back to the start node later the value is no longer a string and the node runs. A node
    the live workflow no longer has, or the start node itself, runs the start node.
    """
    target = event.get("resume_at")
    if not isinstance(target, str) or target == event.get("node") or target not in ticket_type.nodes:
        return None
    return target


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


def calls_back(node: Node) -> bool:
    """The node's Task waits for its function to answer with the task token (``waitForTaskToken``).

    A human node always (a person answers). A system node only when it has more than one distinct
    way out (a dispatch node whose ``on_no_candidate`` differs from ``next``): its function then
    answers with ``SendTaskSuccess`` (the primary way) or ``SendTaskFailure(route_error(label))``,
    which the Task's Catch takes, so the route costs no Choice state and no Lambda error. A system
    node with one way out is a plain Task (no extra API call).
    """
    return node.kind == "human" or len(set(outgoing(node).values())) > 1


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
