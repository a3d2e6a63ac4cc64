"""Compile a tenant's ticket type into Amazon States Language.

Deterministic: the same definition always gives byte-identical JSON (states in the
order of the tenant file, keys in a fixed order), so the compiled ASL of the example
tenants is kept as golden files and any compiler change shows in review.

Shape, chosen to keep state transitions per ticket at the floor: exactly one state per node
visited, and no Choice state but a decision node's own (Standard workflows bill per transition,
and a Choice is one):

- ``StartAt`` is the type's ``start`` node.
- ``human`` node: one ``lambda:invoke.waitForTaskToken`` Task that parks the token on
  the ticket; the action taken comes back as ``$.result.action``.
- ``dispatch`` node with two ways out (``next`` and a different ``on_no_candidate``): also a
  ``waitForTaskToken`` Task (``routing.calls_back``). The dispatch function answers with
  ``SendTaskSuccess`` when it assigned someone and ``SendTaskFailure(Scrm.Route.no_candidate)``
  when nobody fits; the Catch goes to ``on_no_candidate``. Not a Lambda error (which would count
  against the function-errors alarm on every routed dispatch), and not a Choice (a transition).
  It costs one SendTaskSuccess per dispatch (its own account rate; ``scrm capacity``).
- ``dispatch`` with one way out, ``settlement``, ``create_ticket``: one plain Task on the platform
  function, ``Next`` its one target.
- ``end``: one Task that closes the ticket, then the execution ends.
- ``decision``: one Choice state (``shared.workflow.decision``): its rules in file order, each the
  compiled condition, and ``Default``, on the facts the steps before it left in ``$.result.facts``
  (the execution input, each person's action; system Tasks of such a type keep ``$.result``). No
  Lambda invocation; a Catch-routed action reaches it through a Pass that parses its facts, and
  facts that are missing are read by ``<node>.refresh`` (a Task) first.

Routing of a callback Task: a node's first way out (``outgoing(node)``'s first label, the primary
action) is the Task's ``Next``, taken on success. Every other distinct target gets one Catch entry
whose ``ErrorEquals`` lists ``route_error(label)`` of each label leading there; the resumer (or the
dispatch function) sends ``SendTaskFailure`` with that error, and Step Functions goes straight to the
target (no Lambda error is involved). Labels that lead to the primary target are sent as success
(``is_success_path``). The Retry lists only Lambda service errors, so a route error is never
retried; a settlement Task also retries ``Scrm.Conflict`` and ``Scrm.Unavailable`` (its writes met
others': settling again is idempotent). Every callback Task payload carries ``"routing": "catch"``
and its ``success`` labels; the task stores them with the token, so an execution still running on
an older, Choice-shaped version (no ``routing``) keeps being resumed with success and
``{"action", "node"}``.

Retry of a failed ticket (``POST /tickets/{id}/retry``): the new execution's input names the node
in ``resume_at``. The start node's Task gets it in its payload and has one Catch per other node, in
file order, on ``resume_error(node)`` (``Scrm.Resume.<node>``), with ``ResultPath: $.resume_at`` so
the resume is consumed (a later visit of the start node runs it). The start node's function, seeing
``resume_at`` name another node (``routing.resume_target``), routes there instead of doing its
work: a callback Task by ``SendTaskFailure`` on its own token (no Lambda error); a plain system
start node (a dispatch with one way out, a settlement, create_ticket or end node) by raising that
error, which Lambda counts as a function error, once per operator retry only. Versions compiled
with the entry Choice ``Resume?`` read the same input, so the retry works on both shapes.

Loop cap: every Task reports its visit to the ticket; past ``MAX_NODE_VISITS`` visits of
one node the function raises ``Scrm.LoopLimitExceeded`` and the Task's Catch sends the
execution to a Fail state, after the ticket was marked ``failed`` with the reason, so no
execution can approach the 25,000-event history limit silently.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.tenant.models import Node, TenantConfig, TicketType

from shared.workflow.decision import (
    decision_choice,
    facts_pass,
    facts_state_name,
    has_decisions,
    refresh_state_name,
    resume_pass,
    resume_state_name,
)
from shared.workflow.routing import (
    CATCH_ROUTING,
    LOOP_LIMIT_ERROR,
    MAX_NODE_VISITS,
    RESUME_ERROR_PREFIX,
    RESUME_STATE,
    ROUTE_ERROR_PREFIX,
    calls_back,
    outgoing,
    primary_label,
    resume_error,
    route_error,
    success_labels,
)

__all__ = [
    "CATCH_ROUTING",
    "LOOP_LIMIT_ERROR",
    "MAX_NODE_VISITS",
    "RESUME_ERROR_PREFIX",
    "RESUME_STATE",
    "ROUTE_ERROR_PREFIX",
    "compile_definition",
    "compile_ticket_type",
    "outgoing",
    "resume_error",
    "route_error",
    "state_machine_name",
]

LOOP_FAIL_STATE = "Loop limit exceeded"
"""Not a valid node name (it has spaces), so no node can take its place."""

# Placeholder in the ASL -> fixed platform function name (see docs/design.md).
SUBSTITUTIONS: dict[str, str] = {
    "TicketParkArn": "scrm-ticket-park",
    "TicketStepArn": "scrm-ticket-step",
    "DispatchAssignArn": "scrm-dispatch-assign",
    "SettlementSettleArn": "scrm-settlement-settle",
}

_TASK_RETRY = [
    {
        "ErrorEquals": [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }
]
SETTLEMENT_RETRY_ERRORS = ["Scrm.Conflict", "Scrm.Unavailable"]
"""What a settlement Task raises when its writes met others' (``shared.workflow.task_errors``): sent
again, so a busy moment never fails the execution. Settling is idempotent per visit (a second try
finds the record the first wrote), so a retry cannot settle twice."""
_SETTLEMENT_RETRY = [
    {
        "ErrorEquals": SETTLEMENT_RETRY_ERRORS,
        "IntervalSeconds": 1,
        "MaxAttempts": 8,
        "BackoffRate": 2,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    },
    *_TASK_RETRY,
]
_LOOP_CATCH = [{"ErrorEquals": [LOOP_LIMIT_ERROR], "ResultPath": "$.error", "Next": LOOP_FAIL_STATE}]

_FUNCTION_OF_KIND = {
    "dispatch": "DispatchAssignArn",
    "settlement": "SettlementSettleArn",
    "create_ticket": "TicketStepArn",
    "end": "TicketStepArn",
}


def state_machine_name(tenant_id: str, type_id: str) -> str:
    """The state machine's name, fixed so functions can address it without lookups."""
    return f"scrm-{tenant_id}-{type_id}"


def _payload(node_name: str, node: Node, *, start: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "tenant.$": "$.tenant",
        "ticket_id.$": "$.ticket_id",
        "node": node_name,
        "kind": node.kind,
        "execution.$": "$$.Execution.Id",
        "workflow_version.$": "$.workflow_version",
    }
    if start:
        # the engine always puts ``type`` and ``resume_at`` in the input (null on a first start)
        payload["type.$"] = "$.type"
        payload["resume_at.$"] = "$.resume_at"
    if calls_back(node):
        # What the answering side needs, said by the ASL itself and stored with the token at park:
        # the primary label (Next, and the full form) and every label taken by succeeding. Every
        # other way out is a Catch on its route error. Nothing at run time depends on mapping order.
        payload["routing"] = CATCH_ROUTING
        payload["primary"] = primary_label(node)
        payload["success"] = success_labels(node)
        payload["token.$"] = "$$.Task.Token"
    return payload


_FUNCTION_OF_CALLBACK = {"human": "TicketParkArn", "dispatch": "DispatchAssignArn"}


def _callback_task(node_name: str, node: Node, *, start: bool) -> dict[str, Any]:
    comment = (
        f"human node {node_name}: parks the task token until an action is taken"
        if node.kind == "human"
        else f"{node.kind} node {node_name}: its function answers with the task token"
    )
    return {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "${" + _FUNCTION_OF_CALLBACK[node.kind] + "}",
            "Payload": _payload(node_name, node, start=start),
        },
        "ResultPath": "$.result",
        "Retry": _TASK_RETRY,
        "Catch": list(_LOOP_CATCH),
    }


def _system_task(node_name: str, node: Node, *, start: bool) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"{node.kind} node {node_name}",
        "Resource": "${" + _FUNCTION_OF_KIND[node.kind] + "}",
        "Parameters": _payload(node_name, node, start=start),
        "ResultPath": "$.result",
        "Retry": _SETTLEMENT_RETRY if node.kind == "settlement" else _TASK_RETRY,
        "Catch": list(_LOOP_CATCH),
    }


def _route(state: dict[str, Any], targets: dict[str, str], parse_into: frozenset[str] = frozenset()) -> None:
    """Wire a Task to its targets: the first label's on success, every other one by a Catch. A Catch
    to a decision in ``parse_into`` goes through its facts Pass (the action's facts, from its Cause)."""
    if not targets:
        return
    labels = list(targets)
    primary = targets[labels[0]]
    state["Next"] = primary
    errors: dict[str, list[str]] = {}
    for label in labels[1:]:
        if targets[label] != primary:
            errors.setdefault(targets[label], []).append(route_error(label))
    state["Catch"] += [
        {
            "ErrorEquals": names,
            "ResultPath": "$.result",
            "Next": facts_state_name(target) if target in parse_into else target,
        }
        for target, names in errors.items()
    ]


def _resume_catches(ticket_type: TicketType) -> list[dict[str, Any]]:
    """The start node's way to every other node, in file order, for a retried ticket.

    ``ResultPath: $.resume_at`` overwrites the input's node name with the error, so the resume is
    taken once: a later visit of the start node in the same execution runs the node."""
    return [
        {"ErrorEquals": [resume_error(name)], "ResultPath": "$.resume_at", "Next": name}
        for name in ticket_type.nodes
        if name != ticket_type.start
    ]


def _caught_decisions(ticket_type: TicketType) -> frozenset[str]:
    """Decision nodes a human node's Catch leads to: each gets a Pass that parses the facts the
    action sent in its Cause."""
    decisions = {name for name, node in ticket_type.nodes.items() if node.kind == "decision"}
    found: set[str] = set()
    for node in ticket_type.nodes.values():
        if node.kind == "human":
            targets = outgoing(node)
            primary = next(iter(targets.values()), None)
            found |= {target for target in targets.values() if target in decisions and target != primary}
    return frozenset(found)


def _refresh_task(node_name: str, node: Node) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"decision node {node_name}: no facts reached it; read them",
        "Resource": "${TicketStepArn}",
        "Parameters": _payload(node_name, node, start=False),
        "ResultPath": "$.result",
        "Retry": _TASK_RETRY,
        "Catch": list(_LOOP_CATCH),
        "Next": node_name,
    }


def compile_definition(ticket_type: TicketType, tenant_id: str, type_id: str) -> dict[str, Any]:
    """The ASL of one ticket type as a dict (insertion-ordered, deterministic)."""
    states: dict[str, Any] = {}
    deciding = has_decisions(ticket_type)
    caught = _caught_decisions(ticket_type)
    for node_name, node in ticket_type.nodes.items():
        start = node_name == ticket_type.start
        if node.kind == "decision":
            states[node_name] = decision_choice(node_name, node, ticket_type)
            if node_name in caught:
                states[facts_state_name(node_name)] = facts_pass(node_name)
            states[refresh_state_name(node_name)] = _refresh_task(node_name, node)
            if start:
                for target in ticket_type.nodes:
                    if target != node_name:
                        states[resume_state_name(target)] = resume_pass(target)
            continue
        if calls_back(node):
            state = _callback_task(node_name, node, start=start)
        else:
            state = _system_task(node_name, node, start=start)
        if deciding and node.kind != "human":
            state["ResultPath"] = None  # keep the facts the last person's action left (decision.py)
        if node.kind == "end":
            state["End"] = True
        else:
            _route(state, outgoing(node), caught if node.kind == "human" else frozenset())
        if start:
            state["Catch"] += _resume_catches(ticket_type)
        states[node_name] = state
    states[LOOP_FAIL_STATE] = {
        "Type": "Fail",
        "Error": LOOP_LIMIT_ERROR,
        "Cause": f"a node was visited more than {MAX_NODE_VISITS} times; the ticket is marked failed",
    }
    return {
        "Comment": f"{tenant_id}/{type_id}: {ticket_type.name} (generated by scrm; do not edit)",
        "StartAt": ticket_type.start,
        "States": states,
    }


def to_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def compile_ticket_type(cfg: TenantConfig, type_id: str) -> str:
    """ASL JSON of one of the tenant's ticket types, with ``${...}`` function placeholders."""
    return to_json(compile_definition(cfg.ticket_types[type_id], cfg.tenant.id, type_id))
