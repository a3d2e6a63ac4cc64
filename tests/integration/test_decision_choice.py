"""A decision node's compiled Choice (``shared.rules.conditions.choice_rule``, placed by
``shared.workflow.decision``) routes exactly as ``evaluate`` says, run by moto's Step Functions
interpreter.

Generated conditions (the condition language's own generators) that ``scrm validate`` accepts,
on generated facts: each pair is one execution of a state machine whose Choice is the compiled
rule; the branch it took must be ``evaluate``'s answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, assume, given, settings
from moto import mock_aws

from shared.rules.conditions import Condition, check, choice_input, choice_rule, evaluate
from shared.workflow.decision import FACTS
from tests.unit.test_conditions import PATHS, conditions, subjects

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/scrm-workflows"


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def route(sfn: Any, cond: Condition, facts: dict[str, Any]) -> bool:
    definition = {
        "StartAt": "decide",
        "States": {
            "decide": {
                "Type": "Choice",
                "Choices": [{**choice_rule(cond, FACTS), "Next": "yes"}],
                "Default": "no",
            },
            "yes": {"Type": "Pass", "Result": True, "End": True},
            "no": {"Type": "Pass", "Result": False, "End": True},
        },
    }
    name = f"d{time.monotonic_ns()}"
    arn = sfn.create_state_machine(
        name=name, definition=json.dumps(definition, ensure_ascii=False), roleArn=ROLE
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"result": {"facts": facts}}))
    for _ in range(500):
        described = sfn.describe_execution(executionArn=run["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(0.01)
    assert described["status"] == "SUCCEEDED", described
    return bool(json.loads(described["output"]))


CASES = [
    ({"path": "customer.tier", "equals": "VIP"}, {"customer": {"tier": "VIP"}}, True),
    ({"path": "customer.tier", "equals": "VIP"}, {"customer": {}}, False),  # missing: false, no error
    ({"path": "customer.tier", "not_equals": "VIP"}, {"customer": {}}, False),
    ({"path": "customer.tier", "not_equals": "VIP"}, {"customer": {"tier": None}}, False),
    ({"path": "customer.lifetime_value", "gte": 5000}, {"customer": {"lifetime_value": "5000.00"}}, True),
    ({"path": "customer.lifetime_value", "gte": 5000}, {"customer": {"lifetime_value": "4999.99"}}, False),
    ({"path": "customer.tags", "contains": "回头客 A"}, {"customer": {"tags": ["回头客 A"]}}, True),
    ({"path": "customer.tags", "contains": "VIP"}, {"customer": {"tags": ["vip"]}}, False),
    ({"path": "ticket.priority", "in": ["urgent", "high"]}, {"ticket": {"priority": "high"}}, True),
    ({"path": "ticket.priority", "not_in": ["urgent", "high"]}, {"ticket": {"priority": "normal"}}, True),
    ({"path": "ticket.channel", "matches": "shop*"}, {"ticket": {"channel": "shopify-main"}}, True),
    ({"path": "ticket.channel", "exists": False}, {"ticket": {}}, True),
    ({"all": []}, {}, True),
    ({"any": []}, {}, False),
    ({"not": {"path": "customer.tier", "equals": "VIP"}}, {"customer": {"tier": "VIP"}}, False),
]


@pytest.mark.parametrize(("raw", "subject", "expected"), CASES)
def test_each_operator_routes_as_evaluated(
    sfn: Any, raw: Any, subject: dict[str, Any], expected: bool
) -> None:
    cond = Condition.model_validate(raw)
    assert evaluate(cond, subject) is expected
    assert route(sfn, cond, choice_input(subject, PATHS)) is expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conditions, subjects())
def test_generated_conditions_route_as_evaluated(sfn: Any, raw: Any, subject: dict[str, Any]) -> None:
    cond = Condition.model_validate(raw)
    assume(not check(cond, PATHS))  # what scrm validate accepts
    subject = json.loads(json.dumps(subject, default=str))  # facts come as JSON: money as strings
    assert route(sfn, cond, choice_input(subject, PATHS)) == evaluate(cond, subject)


def _run(sfn: Any, definition: dict[str, Any], document: dict[str, Any]) -> list[str]:
    name = f"d{time.monotonic_ns()}"
    arn = sfn.create_state_machine(
        name=name, definition=json.dumps(definition, ensure_ascii=False), roleArn=ROLE
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(document, ensure_ascii=False))
    for _ in range(500):
        if sfn.describe_execution(executionArn=run["executionArn"])["status"] != "RUNNING":
            break
        time.sleep(0.01)
    events = sfn.get_execution_history(executionArn=run["executionArn"])["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_an_action_routed_by_a_catch_brings_its_facts_through_the_pass(sfn: Any) -> None:
    """The ticket API puts the facts in the Cause of a Catch-routed action; the decision's facts Pass
    parses them (``States.StringToJson``) so its Choice routes on them: no Lambda in between."""
    from shared.tenant.models import TicketType
    from shared.workflow.decision import decision_choice, facts_pass

    kind = TicketType.model_validate(
        {
            "name": "t",
            "start": "ask",
            "nodes": {
                "ask": {
                    "kind": "human",
                    "assignee": {"role": "agent"},
                    "actions": {"ok": "done", "no": "triage"},
                },
                "triage": {
                    "kind": "decision",
                    "rules": [
                        {"when": {"path": "ticket.fields.satisfied", "equals": "no"}, "next": "review"}
                    ],
                    "default": "done",
                },
                "review": {"kind": "human", "assignee": {"role": "supervisor"}, "actions": {"r": "done"}},
                "done": {"kind": "end"},
            },
        }
    )
    facts = choice_input({"ticket": {"fields": {"satisfied": "no"}}}, {"ticket.fields.satisfied": "text"})
    cause = json.dumps({**facts, "action": "no", "node": "ask"}, ensure_ascii=False)
    end = {"Type": "Pass", "End": True}
    definition = {
        "StartAt": "caught",
        "States": {
            # what the human Task's Catch leaves: $.result = {Error, Cause}
            "caught": {
                "Type": "Pass",
                "Result": {"Error": "Scrm.Route.no", "Cause": cause},
                "ResultPath": "$.result",
                "Next": "triage.facts",
            },
            "triage.facts": facts_pass("triage"),
            "triage": decision_choice("triage", kind.nodes["triage"], kind),
            "triage.refresh": end,
            "review": end,
            "done": end,
        },
    }
    assert _run(sfn, definition, {})[1:] == ["triage.facts", "triage", "review"]
    # without facts (an older execution, a dispatch's Catch), the Choice sends it to read them first
    definition["StartAt"] = "triage"
    assert _run(sfn, definition, {"result": {"Error": "x", "Cause": "{}"}}) == ["triage", "triage.refresh"]
