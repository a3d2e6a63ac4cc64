"""Compile a tenant's ticket type into Amazon States Language.

Deterministic: the same definition always gives byte-identical JSON (states in the
order of the tenant file, keys in a fixed order), so the compiled ASL of the example
tenants is kept as golden files and any compiler change shows in review.

Shape, chosen to keep state transitions per ticket at the floor (one per node visited, plus a
Choice after a system node only when it has several ways out):

- ``human`` node: one ``lambda:invoke.waitForTaskToken`` Task that parks the token on
  the ticket; the action taken comes back as ``$.result.action``.
- ``dispatch`` / ``settlement`` / ``create_ticket``: one Task on the platform function; a
  Choice on ``$.result.outcome`` only where there is more than one way out (a dispatch node's
  ``no_candidate``). Not a Catch: that would need the function to fail, and every routed
  no-candidate dispatch would then count as a Lambda error and trip the function-errors alarm.
- ``end``: one Task that closes the ticket, then the execution ends.

Human nodes route without Choice states (a Choice is a state transition of its own, and
Standard workflows bill per transition): a node's first way out (``outgoing(node)``'s first
label, the primary action) is the Task's ``Next``, taken on success. Every other distinct
target gets one Catch entry whose ``ErrorEquals`` lists ``route_error(label)`` of each label
leading there; the resumer sends ``SendTaskFailure`` with that error, and Step Functions goes
straight to the target (no Lambda error is involved). Labels that lead to the primary target
are sent as success (``is_success_path``). The Retry lists only Lambda service errors, so a
route error is never retried; a settlement Task also retries ``Scrm.Conflict`` and
``Scrm.Unavailable`` (its writes met others': settling again is idempotent). Every human Task
payload carries ``"routing": "catch"``; the park task stores it with the token, so an execution
still running on an older, Choice-shaped version (no ``routing``) keeps being resumed with success and
``{"action", "node"}``.

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

from shared.workflow.routing import (
    CATCH_ROUTING,
    LOOP_LIMIT_ERROR,
    MAX_NODE_VISITS,
    RESUME_STATE,
    ROUTE_ERROR_PREFIX,
    outgoing,
    primary_label,
    route_error,
    success_labels,
)

__all__ = [
    "CATCH_ROUTING",
    "LOOP_LIMIT_ERROR",
    "MAX_NODE_VISITS",
    "RESUME_STATE",
    "ROUTE_ERROR_PREFIX",
    "compile_definition",
    "compile_ticket_type",
    "outgoing",
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


def _payload(node_name: str, node: Node) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "tenant.$": "$.tenant",
        "ticket_id.$": "$.ticket_id",
        "node": node_name,
        "kind": node.kind,
        "execution.$": "$$.Execution.Id",
        "workflow_version.$": "$.workflow_version",
    }
    if node.kind == "human":
        # What the resumer needs, said by the ASL itself and stored with the token at park: the
        # primary label (Next, and the full form) and every label taken by succeeding. Every other
        # action is a Catch on its route error. Nothing at run time depends on mapping order.
        payload["routing"] = CATCH_ROUTING
        payload["primary"] = primary_label(node)
        payload["success"] = success_labels(node)
        payload["token.$"] = "$$.Task.Token"
    return payload


def _human_task(node_name: str, node: Node) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"human node {node_name}: parks the task token until an action is taken",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "${TicketParkArn}", "Payload": _payload(node_name, node)},
        "ResultPath": "$.result",
        "Retry": _TASK_RETRY,
        "Catch": list(_LOOP_CATCH),
    }


def _system_task(node_name: str, node: Node) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"{node.kind} node {node_name}",
        "Resource": "${" + _FUNCTION_OF_KIND[node.kind] + "}",
        "Parameters": _payload(node_name, node),
        "ResultPath": "$.result",
        "Retry": _SETTLEMENT_RETRY if node.kind == "settlement" else _TASK_RETRY,
        "Catch": list(_LOOP_CATCH),
    }


def choice_state_name(node_name: str) -> str:
    return f"{node_name}?"


def _branch(state: dict[str, Any], node_name: str, targets: dict[str, str]) -> dict[str, Any]:
    """Wire a system Task to its targets: directly when there is one, through a Choice on
    ``$.result.outcome`` otherwise (the first label is the Default)."""
    distinct = list(dict.fromkeys(targets.values()))
    if len(distinct) <= 1:
        if distinct:
            state["Next"] = distinct[0]
        return {}
    state["Next"] = choice_state_name(node_name)
    labels = list(targets)
    choices = [
        {"Variable": "$.result.outcome", "StringEquals": label, "Next": targets[label]}
        for label in labels[1:]
    ]
    return {
        choice_state_name(node_name): {"Type": "Choice", "Choices": choices, "Default": targets[labels[0]]}
    }


def _route(state: dict[str, Any], targets: dict[str, str]) -> None:
    """Wire a Task to its targets: the first label's on success, every other one by a Catch."""
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
        {"ErrorEquals": names, "ResultPath": "$.result", "Next": target} for target, names in errors.items()
    ]


def _resume_choice(ticket_type: TicketType) -> dict[str, Any]:
    """The entry state: a retried ticket (``$.resume_at`` = a node) starts again at that node;
    any other start (``resume_at`` null or absent) goes to the type's ``start``. One transition."""
    return {
        "Type": "Choice",
        "Comment": "a retried ticket starts again where it failed (POST /tickets/{id}/retry)",
        "Choices": [
            {"Variable": "$.resume_at", "IsPresent": False, "Next": ticket_type.start},
            *(
                {"Variable": "$.resume_at", "StringEquals": name, "Next": name}
                for name in ticket_type.nodes
                if name != ticket_type.start
            ),
        ],
        "Default": ticket_type.start,
    }


def compile_definition(ticket_type: TicketType, tenant_id: str, type_id: str) -> dict[str, Any]:
    """The ASL of one ticket type as a dict (insertion-ordered, deterministic)."""
    states: dict[str, Any] = {RESUME_STATE: _resume_choice(ticket_type)}
    for node_name, node in ticket_type.nodes.items():
        if node.kind == "end":
            state = _system_task(node_name, node)
            state["End"] = True
            states[node_name] = state
            continue
        if node.kind == "human":
            state = _human_task(node_name, node)
            _route(state, outgoing(node))
            states[node_name] = state
        else:
            state = _system_task(node_name, node)
            states[node_name] = state
            states.update(_branch(state, node_name, outgoing(node)))
    states[LOOP_FAIL_STATE] = {
        "Type": "Fail",
        "Error": LOOP_LIMIT_ERROR,
        "Cause": f"a node was visited more than {MAX_NODE_VISITS} times; the ticket is marked failed",
    }
    return {
        "Comment": f"{tenant_id}/{type_id}: {ticket_type.name} (generated by scrm; do not edit)",
        "StartAt": RESUME_STATE,
        "States": states,
    }


def to_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def compile_ticket_type(cfg: TenantConfig, type_id: str) -> str:
    """ASL JSON of one of the tenant's ticket types, with ``${...}`` function placeholders."""
    return to_json(compile_definition(cfg.ticket_types[type_id], cfg.tenant.id, type_id))
