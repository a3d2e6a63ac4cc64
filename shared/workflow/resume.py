"""Resume a parked human task the way the ASL it runs on routes (see ``compiler``'s module doc).

ASL compiled with Catch routing sends ``"routing": "catch"`` to the park task, which stores it
with the token: a non-primary action then fails the task with ``route_error(action)`` and its
Catch goes straight to the target. Without it (an execution still running on an older,
Choice-shaped version) every action is sent as success and the Choice routes on it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.ports import WorkflowEngine
from shared.workflow.compiler import CATCH_ROUTING, is_success_path, route_error

if TYPE_CHECKING:
    from shared.tenant.models import Node


class Resumption(NamedTuple):
    """What to send: success with ``output`` when ``error`` is None, else a failure with it."""

    error: str | None
    output: dict[str, Any]


def resumption(node: Node, node_name: str, action: str, routing: str | None) -> Resumption:
    output = {"action": action, "node": node_name}
    if routing != CATCH_ROUTING or is_success_path(node, action):
        return Resumption(None, output)
    return Resumption(route_error(action), output)


def resume(
    engine: WorkflowEngine, token: str, node: Node, node_name: str, action: str, routing: str | None
) -> None:
    """Send the action to the parked task; raises ``TaskTokenGone`` as the engine does."""
    decided = resumption(node, node_name, action, routing)
    if decided.error is None:
        engine.send_success(token, decided.output)
    else:
        engine.send_failure(token, decided.error, json.dumps(decided.output))
