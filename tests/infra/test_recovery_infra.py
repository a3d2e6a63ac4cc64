"""No ticket in limbo (issue 14): the platform's one rule on stopped executions -> scrm-ticket-failed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from infra.constructs.functions import SENDER_EMAIL
from infra.constructs.recovery import RULE_NAME
from infra.constructs.tenant_data import ACCESS
from tests.infra.test_platform_stack import functions_by_name, of_type, statements_of_role

FUNCTION = "scrm-ticket-failed"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
PREFIX_JOIN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":states:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":stateMachine:scrm-",
        ],
    ]
}


def _resolve(value: Any) -> Any:
    """A template fragment with the pseudo parameters of one account and region substituted."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        sep, parts = value["Fn::Join"]
        return str(sep).join(str(_resolve(p)) for p in parts)
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def _pattern_rules(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pattern rules on the default bus (the domain events' rule is on the platform's own bus)."""
    return {
        k: v
        for k, v in of_type(raw, "AWS::Events::Rule").items()
        if "EventPattern" in v["Properties"] and v["Properties"].get("EventBusName", "default") == "default"
    }


def _the_rule(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((rule_id, rule),) = _pattern_rules(raw).items()
    return rule_id, rule["Properties"]


def _function_id(raw: dict[str, Any]) -> str:
    return functions_by_name(raw)[FUNCTION][0]


def _event(
    status: str, machine: str = "scrm-acme-home-install", account: str = "123456789012"
) -> dict[str, Any]:
    arn = f"arn:aws:states:us-east-1:{account}:stateMachine:{machine}"
    return {
        "version": "0",
        "id": "6b1f6a3e-0000-4000-8000-000000000000",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": "2026-11-23T01:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:states:us-east-1:{account}:execution:{machine}:TK-1"],
        "detail": {
            "executionArn": f"arn:aws:states:us-east-1:{account}:execution:{machine}:TK-1",
            "stateMachineArn": arn,
            "name": "TK-1",
            "status": status,
            "startDate": 1795395600000,
            "stopDate": 1795395601000,
            "input": json.dumps({"tenant": "acme-home", "ticket_id": "TK-1"}),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            "error": None,
            "cause": None,
        },
    }


# ----------------------------------------------------------------------------- the rule
def test_one_rule_on_the_default_bus_matches_stopped_scrm_executions(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    # Given the platform stack, Then exactly one rule has an event pattern ...
    _rule_id, props = _the_rule(platform_raw)
    # ... named, enabled, on the default bus (no EventBusName), no schedule
    assert props["Name"] == RULE_NAME
    assert props["State"] == "ENABLED"
    assert "EventBusName" not in props and "ScheduleExpression" not in props
    # ... and it asks for the stopped executions of this account's and region's scrm-* state machines
    platform.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": RULE_NAME,
            "EventPattern": Match.object_equals(
                {
                    "source": ["aws.states"],
                    "detail-type": ["Step Functions Execution Status Change"],
                    "detail": {
                        "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                        "stateMachineArn": [{"prefix": PREFIX_JOIN}],
                    },
                }
            ),
        },
    )


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (_event("FAILED"), True),
        (_event("TIMED_OUT"), True),
        (_event("ABORTED"), True),
        (_event("FAILED", machine="scrm-bright-clean-cleaning"), True),
        (_event("SUCCEEDED"), False),
        (_event("RUNNING"), False),
        (_event("FAILED", machine="billing-nightly"), False),  # not a tenant workflow
        (_event("FAILED", account="210987654321"), False),  # another account's scrm-* machine
    ],
)
def test_the_pattern_matches_what_step_functions_sends(
    platform_raw: dict[str, Any], event: dict[str, Any], matches: bool
) -> None:
    # Given the deployed pattern (this account and region), When EventBridge (moto's matcher) sees
    # a status change, Then only a stopped execution of a scrm-* state machine matches
    _rule_id, props = _the_rule(platform_raw)
    pattern = EventPattern.load(json.dumps(_resolve(props["EventPattern"])))
    assert pattern.matches_event(event) is matches  # type: ignore[arg-type]


def test_the_target_is_the_function_with_a_retry_policy_and_a_dead_letter_queue(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    rule_id, props = _the_rule(platform_raw)
    (target,) = props["Targets"]
    # the function itself (no input transformation: it reads the event's detail)
    assert target["Arn"] == {"Fn::GetAtt": [_function_id(platform_raw), "Arn"]}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    # retried for a day (EventBridge's maximum attempts), then the dead-letter queue
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert dlq_id.startswith("RecoveryDlq")
    queue = platform_raw["Resources"][dlq_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 86400
    # EventBridge may send to it, for this rule only
    platform.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {
                                    "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
                                },
                            }
                        )
                    ]
                )
            },
        },
    )
    # and what the function itself fails on (retried twice by Lambda) ends in the same queue
    platform.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": _function_id(platform_raw)},
            "Qualifier": "$LATEST",
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}},
        },
    )
    # its depth is alarmed, and its URL is a stack output
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in of_type(platform_raw, "AWS::CloudWatch::Alarm").values()
    }
    assert json.dumps({"Fn::GetAtt": [dlq_id, "QueueName"]}) in json.dumps(alarms["scrm-recovery-dlq-depth"])
    assert platform_raw["Outputs"]["RecoveryDlqUrl"]["Value"] == {"Ref": dlq_id}


def test_exactly_one_eventbridge_permission_for_that_rule(platform_raw: dict[str, Any]) -> None:
    permissions = [
        p["Properties"]
        for p in of_type(platform_raw, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
        and p["Properties"]["FunctionName"] == {"Fn::GetAtt": [_function_id(platform_raw), "Arn"]}
    ]
    (permission,) = permissions
    rule_id, _props = _the_rule(platform_raw)
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["FunctionName"] == {"Fn::GetAtt": [_function_id(platform_raw), "Arn"]}
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_tenant_stacks_add_no_rule_on_events(tenant_raws: dict[str, dict[str, Any]]) -> None:
    # rules per bus are an account quota: onboarding a tenant adds no rule at all (the gauges' rule
    # is the platform's), and no Lambda permission
    for tenant_id, raw in tenant_raws.items():
        assert _pattern_rules(raw) == {}, tenant_id
        assert of_type(raw, "AWS::Events::Rule") == {}, tenant_id
        assert of_type(raw, "AWS::Lambda::Permission") == {}, tenant_id


# ----------------------------------------------------------------------------- the function
def test_the_function_and_its_least_privilege_role(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    _lid, props = functions[FUNCTION]
    assert props["Handler"] == "functions.ticket.tasks.execution_status"
    assert props["Timeout"] == 30 and props["MemorySize"] == 768
    statements = statements_of_role(platform_raw, props["Role"]["Fn::GetAtt"][0])
    by_sid = {s.get("Sid", ""): s for s in statements}
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    # tickets through the tenant's read-write data role, as the other ticket tasks; no table of its own
    assert not {a for a in actions if a.startswith("dynamodb:")}
    assert json.dumps(by_sid["TenantData"]["Resource"]).endswith(
        f':role/{ACCESS["read_write"].role_name}"]]}}'
    )
    park = functions["scrm-ticket-park"][1]["Environment"]["Variables"]
    env = props["Environment"]["Variables"]
    assert env["TENANT_DATA_ACCESS"] == park["TENANT_DATA_ACCESS"] == ACCESS["read_write"].suffix
    # the ticket's timers: delete (and look up) schedules of the reminders group, never create them
    assert set(by_sid["Reminders"]["Action"]) == {"scheduler:GetSchedule", "scheduler:DeleteSchedule"}
    assert json.dumps(by_sid["Reminders"]["Resource"]).endswith(':schedule/scrm-reminders/*"]]}')
    assert env["SCHEDULER_GROUP"] == "scrm-reminders"
    assert not {"iam:PassRole", "scheduler:CreateSchedule"} & actions
    # the dispatchers' notice: SMS over SNS, email over SES, from the reminders' sender
    assert by_sid["NotifySms"]["Action"] == "sns:Publish"
    assert set(by_sid["NotifyEmail"]["Action"]) == {"ses:SendEmail", "ses:SendRawEmail"}
    assignee = functions["scrm-dispatch-assign"][1]["Environment"]["Variables"]
    assert env["SENDER_EMAIL"] == assignee["SENDER_EMAIL"] == SENDER_EMAIL
    # and over WeCom for a tenant with a wecom_app: that secret is the only SSM it reads (GetParameter
    # under /scrm/; the tenant configuration is an S3 object)
    ssm = [s for s in statements if "ssm:" in json.dumps(s["Action"])]
    assert [(s["Sid"], s["Action"]) for s in ssm] == [("ChannelSecrets", "ssm:GetParameter")]
    assert json.dumps(ssm[0]["Resource"]).endswith(':parameter/scrm/*"]]}')
    assert env["WECOM_API_URL"] == assignee["WECOM_API_URL"] == "https://qyapi.weixin.qq.com"
    # its on-failure destination, and nothing else of SQS; no workflow actions, no task tokens
    (send,) = [s for s in statements if "sqs:SendMessage" in json.dumps(s["Action"])]
    assert send["Resource"]["Fn::GetAtt"][0].startswith("RecoveryDlq")
    assert not {a for a in actions if a.startswith("states:")}
    assert not {a for a in actions if a.endswith(":*") or a == "*"}
