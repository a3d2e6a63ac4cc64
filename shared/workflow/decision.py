"""A `decision` node: one Step Functions Choice state, no Lambda invocation.

The Choice reads the facts its rules name (the ticket and its customer, shaped by
``shared.rules.conditions.choice_input``) at ``FACTS`` = ``$.result.facts``, the execution's data as
the last step left it. In a ticket type that has decision nodes, every step keeps them there:

- the execution's input carries ``result.facts`` (the facts when the ticket was created, or when a
  failed ticket was retried);
- a human Task's success output (the action sent by the ticket API) carries the facts after that
  action (``result.facts``: its form's fields included);
- a system Task (dispatch, settlement, create_ticket) keeps its input's ``$.result`` (``ResultPath:
  null``): nothing it does changes a path a rule may read;
- an action routed by a Catch (``SendTaskFailure``) carries the facts in its ``Cause`` (a JSON
  string); a Catch that leads to a decision goes through ``<node>.facts``, a Pass state that parses
  it into ``$.result.facts`` (``States.StringToJson``): a transition, not an invocation.

Whatever path leaves no facts (a dispatch's no-candidate Catch, an older execution), the Choice's
first rule sends the ticket to ``<node>.refresh``, a Task on ``scrm-ticket-step`` that reads them
(the one case that costs an invocation), and back. The rules follow in file order (each the compiled
condition, ``choice_rule``, which holds exactly when ``evaluate`` does); none holding goes to
``default``. A decision that is the type's start node also routes a retried ticket to the node it
resumes at, through ``<node>.resume`` Pass states that consume ``$.resume_at``.

State names with a ``.`` are never node names (``[A-Za-z][A-Za-z0-9_-]*``), so nothing clashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.rules.conditions import choice_rule

if TYPE_CHECKING:
    from shared.rules.conditions import Condition
    from shared.tenant.models import Node, TicketType

FACTS = "$.result.facts"
"""Where a decision's Choice reads the facts."""
RESUMED = "-"
"""What ``$.resume_at`` becomes once a start decision has handed the ticket on (never a node name)."""


def facts_state_name(node_name: str) -> str:
    """The Pass state that parses a Catch's facts before decision ``node_name``."""
    return f"{node_name}.facts"


def refresh_state_name(node_name: str) -> str:
    """The Task that reads the facts when none reached decision ``node_name``."""
    return f"{node_name}.refresh"


def resume_state_name(target: str) -> str:
    """The Pass state through which a start decision hands a retried ticket to ``target``."""
    return f"{target}.resume"


def has_decisions(ticket_type: TicketType) -> bool:
    return any(node.kind == "decision" for node in ticket_type.nodes.values())


def decision_choice(node_name: str, node: Node, ticket_type: TicketType) -> dict[str, Any]:
    """The Choice state of a decision node (its one state)."""
    assert node.default is not None
    choices: list[dict[str, Any]] = []
    if node_name == ticket_type.start:
        choices += [
            {
                "And": [
                    {"Variable": "$.resume_at", "IsPresent": True},
                    {"Variable": "$.resume_at", "IsString": True},
                    {"Variable": "$.resume_at", "StringEquals": target},
                ],
                "Next": resume_state_name(target),
            }
            for target in ticket_type.nodes
            if target != node_name
        ]
    choices.append({"Not": {"Variable": FACTS, "IsPresent": True}, "Next": refresh_state_name(node_name)})
    choices += [{**choice_rule(rule.when, FACTS), "Next": rule.next} for rule in node.rules]
    return {
        "Type": "Choice",
        "Comment": f"decision node {node_name}: the first rule that holds, else {node.default}",
        "Choices": choices,
        "Default": node.default,
    }


def facts_pass(node_name: str) -> dict[str, Any]:
    """Before a decision reached by a Catch: the facts the action sent in its ``Cause``."""
    return {
        "Type": "Pass",
        "Comment": f"the facts of the action routed to decision {node_name}, from its Cause",
        "Parameters": {"facts.$": "States.StringToJson($.result.Cause)"},
        "ResultPath": "$.result",
        "Next": node_name,
    }


def resume_pass(target: str) -> dict[str, Any]:
    """A start decision hands a retried ticket on to ``target``, consuming ``$.resume_at``."""
    return {
        "Type": "Pass",
        "Comment": f"a retried ticket resumes at {target}",
        "Result": RESUMED,
        "ResultPath": "$.resume_at",
        "Next": target,
    }


def fact_paths(node: Node) -> set[str]:
    """The condition paths a decision node's rules read (the facts its Choice needs)."""
    found: set[str] = set()

    def walk(cond: Condition) -> None:
        if cond.kind == "compare":
            assert cond.path is not None
            found.add(cond.path)
        for child in cond.children:
            walk(child)

    for rule in node.rules:
        walk(rule.when)
    return found


def type_fact_paths(ticket_type: TicketType) -> set[str]:
    """Every path any decision of the type reads: what the steps carry for them."""
    found: set[str] = set()
    for node in ticket_type.nodes.values():
        if node.kind == "decision":
            found |= fact_paths(node)
    return found
