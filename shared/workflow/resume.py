"""Resume a parked human task the way the ASL it runs on routes (see ``routing``'s module doc).

The decision comes from what the compiled Task payload said when the node parked, stored with the
token: ``routing: "catch"`` and ``success``, the labels taken by succeeding (the primary one
first). An action in ``success`` is sent with SendTaskSuccess; any other fails the task with
``route_error(action)`` and its Catch goes straight to the target. Nothing here depends on the
order of a mapping or on what an action is called, and the API never needs the ASL compiler.

Two older shapes are still resumed as they expect: a ticket parked without ``success`` (ASL from
before it was in the payload) decides from the node's ways out, and one parked without
``routing`` (a Choice-shaped ASL) sends every action as success for the Choice to route.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.ports import WorkflowEngine
from shared.workflow.routing import CATCH_ROUTING, route_error, success_labels

if TYPE_CHECKING:
    from shared.tenant.models import Node


class Resumption(NamedTuple):
    """What to send: success with ``output`` when ``error`` is None, else a failure with it."""

    error: str | None
    output: dict[str, Any]


def resumption(
    node: Node, node_name: str, action: str, routing: str | None, success: Sequence[str] | None = None
) -> Resumption:
    output = {"action": action, "node": node_name}
    if routing != CATCH_ROUTING:
        return Resumption(None, output)
    taken_by_success = success if success is not None else success_labels(node)
    if action in taken_by_success:
        return Resumption(None, output)
    return Resumption(route_error(action), output)


def resume(
    engine: WorkflowEngine,
    token: str,
    node: Node,
    node_name: str,
    action: str,
    routing: str | None,
    success: Sequence[str] | None = None,
) -> None:
    """Send the action to the parked task; raises ``TaskTokenGone`` as the engine does."""
    decided = resumption(node, node_name, action, routing, success)
    if decided.error is None:
        engine.send_success(token, decided.output)
    else:
        engine.send_failure(token, decided.error, json.dumps(decided.output))
