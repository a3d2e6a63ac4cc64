"""Compile a tenant's ticket type into Amazon States Language.

Deterministic: the same definition always gives byte-identical JSON (states in the
order of the tenant file, keys in a fixed order), so the compiled ASL of the example
tenants is kept as golden files and any compiler change shows in review.

Shape, chosen to keep state transitions per ticket near the floor:

- ``human`` node: one ``lambda:invoke.waitForTaskToken`` Task that parks the token on
  the ticket; the action taken comes back as ``$.result.action``. A Choice follows only
  when the node has more than one way out.
- ``dispatch`` / ``settlement`` / ``create_ticket``: one Task on the platform function;
  a Choice on ``$.result.outcome`` only where there is more than one way out.
- ``end``: one Task that closes the ticket, then the execution ends.

Loop cap: every Task reports its visit to the ticket; past ``MAX_NODE_VISITS`` visits of
one node the function raises ``Scrm.LoopLimitExceeded`` and the Task's Catch sends the
execution to a Fail state, after the ticket was marked ``failed`` with the reason, so no
execution can approach the 25,000-event history limit silently.
"""

from __future__ import annotations

import json
from typing import Any

from shared.tenant.models import Node, TenantConfig, TicketType

MAX_NODE_VISITS = 50
LOOP_LIMIT_ERROR = "Scrm.LoopLimitExceeded"
LOOP_FAIL_STATE = "LoopLimitExceeded"

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


def choice_state_name(node_name: str) -> str:
    return f"{node_name}?"


def _payload(node_name: str, node: Node) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "tenant.$": "$.tenant",
        "ticket_id.$": "$.ticket_id",
        "node": node_name,
        "kind": node.kind,
        "execution.$": "$$.Execution.Id",
    }
    if node.kind == "human":
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
        "Catch": _LOOP_CATCH,
    }


def _system_task(node_name: str, node: Node) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Comment": f"{node.kind} node {node_name}",
        "Resource": "${" + _FUNCTION_OF_KIND[node.kind] + "}",
        "Parameters": _payload(node_name, node),
        "ResultPath": "$.result",
        "Retry": _TASK_RETRY,
        "Catch": _LOOP_CATCH,
    }


def _branch(state: dict[str, Any], node_name: str, targets: dict[str, str], variable: str) -> dict[str, Any]:
    """Wire a Task to its targets: directly when there is one, through a Choice otherwise."""
    distinct = list(dict.fromkeys(targets.values()))
    if len(distinct) == 1:
        state["Next"] = distinct[0]
        return {}
    state["Next"] = choice_state_name(node_name)
    labels = list(targets)
    choices = [{"Variable": variable, "StringEquals": label, "Next": targets[label]} for label in labels[1:]]
    return {
        choice_state_name(node_name): {
            "Type": "Choice",
            "Choices": choices,
            "Default": targets[labels[0]],
        }
    }


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


def compile_definition(ticket_type: TicketType, tenant_id: str, type_id: str) -> dict[str, Any]:
    """The ASL of one ticket type as a dict (insertion-ordered, deterministic)."""
    states: dict[str, Any] = {}
    for node_name, node in ticket_type.nodes.items():
        if node.kind == "end":
            state = _system_task(node_name, node)
            state["End"] = True
            states[node_name] = state
            continue
        if node.kind == "human":
            state = _human_task(node_name, node)
            variable = "$.result.action"
        else:
            state = _system_task(node_name, node)
            variable = "$.result.outcome"
        states[node_name] = state
        states.update(_branch(state, node_name, outgoing(node), variable))
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
