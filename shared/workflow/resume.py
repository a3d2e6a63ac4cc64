"""Resume a parked human task the way the ASL it runs on routes (see ``routing``'s module doc).

The decision comes from what the compiled Task payload said when the node parked, stored with the
token: ``routing: "catch"`` and ``success``, the labels taken by succeeding (the primary one
first). An action in ``success`` is sent with SendTaskSuccess; any other fails the task with
``route_error(action)`` and its Catch goes straight to the target. Nothing here depends on the
order of a mapping or on what an action is called, and the API never needs the ASL compiler.

Two older shapes are still resumed as they expect: a ticket parked without ``success`` (ASL from
before it was in the payload) decides from the node's ways out, and one parked without
``routing`` (a Choice-shaped ASL) sends every action as success for the Choice to route.

The same vocabulary answers a system node's callback Task (``answer_task``: a dispatch node with
an ``on_no_candidate`` route) and hands a retried execution from its start node to the node it
resumes at (``hand_over``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from shared.ports import WorkflowEngine
from shared.workflow.routing import CATCH_ROUTING, resume_error, route_error, success_labels

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
    facts: dict[str, Any] | None = None,
) -> None:
    """Send the action to the parked task; raises ``TaskTokenGone`` as the engine does.

    ``facts`` (ticket types with decision nodes, ``shared.workflow.decision``): what a decision's
    Choice reads, carried in the output's ``facts`` on success, and in the Cause (its top level,
    beside ``action`` and ``node``) on a Catch route, where a Pass parses it back."""
    decided = resumption(node, node_name, action, routing, success)
    if decided.error is None:
        output = decided.output if facts is None else {**decided.output, "facts": facts}
        engine.send_success(token, output)
    else:
        cause = decided.output if facts is None else {**facts, **decided.output}
        engine.send_failure(token, decided.error, json.dumps(cause, ensure_ascii=False))


def answer_task(
    engine: WorkflowEngine, token: str, label: str, output: dict[str, Any], success: Sequence[str]
) -> None:
    """A system node's callback Task (``routing.calls_back``) answered by its own function.

    ``label`` is the way out the function took (its answer's ``outcome``); ``success`` the Task
    payload's labels taken by succeeding. Success carries ``output`` (the Task's ``$.result``); any
    other label fails the task with ``route_error(label)`` and ``output`` as the cause, and the
    Task's Catch goes to its target. Raises ``TaskTokenGone`` as the engine does."""
    if label in success:
        engine.send_success(token, json.loads(json.dumps(output, default=str)))
    else:
        engine.send_failure(token, route_error(label), json.dumps(output, default=str))


def hand_over(engine: WorkflowEngine, token: str, node_name: str, target: str) -> None:
    """A retried execution's start node hands it to ``target`` (``routing.resume_target``): the
    start Task's Catch on ``resume_error(target)`` takes it there. Raises ``TaskTokenGone``."""
    cause = json.dumps({"resumed_at": target, "from": node_name})
    engine.send_failure(token, resume_error(target), cause)
