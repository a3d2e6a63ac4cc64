"""Reminders in the platform template: the schedules' dead-letter queue, who may send to it, who knows it."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from tests.infra.test_platform_stack import functions_by_name, of_type, role_of, statements_of_role

SCHEDULE_CREATORS = {
    "scrm-ticket-park",
    "scrm-reminders-fire",
    "scrm-dispatch-assign",
    "scrm-ticket-step",
}  # SLA; offers; follow-ups


def _dlq(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (lid, q) for lid, q in of_type(raw, "AWS::SQS::Queue").items() if lid.startswith("RemindersDlq")
    ]
    return found


def _scheduler_role(platform: Template) -> str:
    role_id: str = platform.find_outputs("SchedulerRoleArn")["SchedulerRoleArn"]["Value"]["Fn::GetAtt"][0]
    return role_id


def test_reminders_dlq_is_encrypted_tls_only_and_keeps_messages_14_days(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    lid, queue = _dlq(platform_raw)
    props = queue["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in props  # it is the last stop
    platform.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": lid}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_the_scheduler_role_may_send_to_the_dlq_and_nothing_else_may(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    lid, _ = _dlq(platform_raw)
    role_id = _scheduler_role(platform)
    sends = [s for s in statements_of_role(platform_raw, role_id) if s["Action"] == "sqs:SendMessage"]
    assert sends == [
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [lid, "Arn"]},
            "Sid": "DeadLetters",
        }
    ]
    # no function role sends to or reads the reminders DLQ
    for name in functions_by_name(platform_raw):
        text = json.dumps(statements_of_role(platform_raw, role_of(platform_raw, name)))
        assert f'"{lid}"' not in text, name


def test_functions_that_create_schedules_know_the_dlq(platform_raw: dict[str, Any]) -> None:
    lid, _ = _dlq(platform_raw)
    for name, (_, props) in functions_by_name(platform_raw).items():
        env = props["Environment"]["Variables"]
        assert ("SCHEDULER_DLQ_ARN" in env) is (name in SCHEDULE_CREATORS), name
        if name in SCHEDULE_CREATORS:
            assert env["SCHEDULER_DLQ_ARN"] == {"Fn::GetAtt": [lid, "Arn"]}, name
            # creating a schedule passes the scheduler role
            actions = json.dumps(statements_of_role(platform_raw, role_of(platform_raw, name)))
            assert "scheduler:CreateSchedule" in actions and "iam:PassRole" in actions, name


def test_reminders_fire_may_reschedule_only_in_the_reminders_group(platform_raw: dict[str, Any]) -> None:
    statements = statements_of_role(platform_raw, role_of(platform_raw, "scrm-reminders-fire"))
    (schedules,) = [s for s in statements if s.get("Sid") == "Reminders"]
    assert set(schedules["Action"]) == {
        "scheduler:CreateSchedule",
        "scheduler:GetSchedule",
        "scheduler:DeleteSchedule",
    }
    assert json.dumps(schedules["Resource"]).endswith(':schedule/scrm-reminders/*"]]}')
    (passes,) = [s for s in statements if s.get("Sid") == "PassSchedulerRole"]
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
