"""Domain events out in the platform stack: one bus, one rule to one queue (no per-tenant rule or
API destination), the publisher's filtered stream source, the sender's queue source, least
privilege, and the two dead-letter queues alarmed."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import assertions

from infra.constructs.events_out import (
    BUS_NAME,
    MAX_RECEIVES,
    RULE_NAME,
    SENDER_BATCH,
    SENDER_MAX_CONCURRENCY,
)
from tests.infra.test_platform_stack import (
    actions_of_role,
    functions_by_name,
    of_type,
    role_of,
    statements_of_role,
)


def _mapping(raw: dict[str, Any], function: str) -> dict[str, Any]:
    fn_id = functions_by_name(raw)[function][0]
    (mapping,) = [
        esm["Properties"]
        for esm in of_type(raw, "AWS::Lambda::EventSourceMapping").values()
        if esm["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    return mapping


def test_one_bus_and_one_rule_to_one_queue_for_every_tenant(
    platform: assertions.Template, platform_raw: dict[str, Any], tenant_raws: dict[str, dict[str, Any]]
) -> None:
    platform.resource_count_is("AWS::Events::EventBus", 1)
    platform.has_resource_properties("AWS::Events::EventBus", {"Name": BUS_NAME})
    (rule,) = [
        r["Properties"]
        for r in of_type(platform_raw, "AWS::Events::Rule").values()
        if r["Properties"].get("EventBusName") == BUS_NAME
    ]
    assert rule["Name"] == RULE_NAME
    assert rule["EventPattern"] == {"source": ["scrm.workorders"]}
    (target,) = rule["Targets"]
    assert ":sqs:" in json.dumps(target["Arn"]) or "WebhooksQueue" in json.dumps(target["Arn"])
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400
    # no API destination or connection anywhere, and no tenant stack adds a rule or a bus
    assert not of_type(platform_raw, "AWS::Events::ApiDestination")
    assert not of_type(platform_raw, "AWS::Events::Connection")
    for tenant, raw in tenant_raws.items():
        kinds = {r["Type"] for r in raw["Resources"].values()}
        assert not kinds & {"AWS::Events::Rule", "AWS::Events::EventBus", "AWS::Events::ApiDestination"}, (
            tenant
        )
    # the queue redrives to its DLQ (a backstop for the sender's own dead-lettering)
    (queue,) = [
        q
        for lid, q in of_type(platform_raw, "AWS::SQS::Queue").items()
        if lid.startswith("EventsOutWebhooksQueue")
    ]
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES


def test_the_publisher_reads_only_event_history_lines_and_settlement_records(
    platform_raw: dict[str, Any],
) -> None:
    mapping = _mapping(platform_raw, "scrm-ticket-publish")
    (table_id,) = of_type(platform_raw, "AWS::DynamoDB::Table")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] >= 1
    assert "Fn::GetAtt" in mapping["DestinationConfig"]["OnFailure"]["Destination"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [
        {
            "eventName": ["INSERT"],
            "dynamodb": {
                "Keys": {"sk": {"S": [{"prefix": "EVT#"}]}},
                "NewImage": {"kind": {"S": ["created", "action", "closed", "failed"]}},
            },
        },
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "SETTLEMENT#"}]}}}},
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["OUTBOX"]}}}},
    ]
    env = functions_by_name(platform_raw)["scrm-ticket-publish"][1]["Environment"]["Variables"]
    assert env["EVENT_BUS_NAME"] == BUS_NAME


def test_the_sender_takes_small_capped_batches_and_reports_failures(platform_raw: dict[str, Any]) -> None:
    mapping = _mapping(platform_raw, "scrm-webhooks-outbound")
    assert mapping["BatchSize"] == SENDER_BATCH
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": SENDER_MAX_CONCURRENCY}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    name, props = "scrm-webhooks-outbound", functions_by_name(platform_raw)["scrm-webhooks-outbound"][1]
    env = props["Environment"]["Variables"]
    assert {"WEBHOOK_QUEUE_URL", "WEBHOOK_DLQ_URL", "WEBHOOK_RETRY_SECONDS"} <= set(env), name
    assert props["ReservedConcurrentExecutions"] == 20


def test_publisher_and_sender_hold_only_what_they_need(platform_raw: dict[str, Any]) -> None:
    publish = actions_of_role(platform_raw, role_of(platform_raw, "scrm-ticket-publish"))
    send = actions_of_role(platform_raw, role_of(platform_raw, "scrm-webhooks-outbound"))
    (bus_id,) = of_type(platform_raw, "AWS::Events::EventBus")
    (put,) = [
        s
        for s in statements_of_role(platform_raw, role_of(platform_raw, "scrm-ticket-publish"))
        if s.get("Sid") == "PublishDomainEvents"
    ]
    assert put["Action"] == "events:PutEvents" and put["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert "events:PutEvents" not in send and "ssm:GetParameter" not in publish
    assert "ssm:GetParameter" in send  # the subscriptions' signing secrets
    assert {a for a in send if a.startswith("sqs:")} >= {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
    }
    for actions in (publish, send):
        assert not any(a.endswith(":*") or a == "*" for a in actions)
        assert not {
            a
            for a in actions
            if a.startswith("dynamodb:")
            and "Stream" not in a
            and a != "dynamodb:GetRecords"
            and a != "dynamodb:GetShardIterator"
        }


def test_both_dead_letter_queues_are_alarmed_and_named_in_outputs(platform_raw: dict[str, Any]) -> None:
    alarms = {
        a["Properties"].get("AlarmName") for a in of_type(platform_raw, "AWS::CloudWatch::Alarm").values()
    }
    assert {"scrm-events-dlq-depth", "scrm-webhooks-dlq-depth"} <= alarms
    assert {"scrm-ticket-publish-errors", "scrm-webhooks-outbound-errors"} <= alarms
    assert {"EventsDlqUrl", "WebhooksDlqUrl", "WebhooksQueueUrl", "EventBusArn"} <= set(
        platform_raw["Outputs"]
    )
