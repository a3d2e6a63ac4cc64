"""moto's Step Functions executions end visibly, once, as the EventBridge status change AWS would send
(``infra/twin/execution_events.py``): FAILED, ABORTED by StopExecution (also while a task waits for
its token), SUCCEEDED."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.twin import execution_events

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
STARTED_WITH = {"tenant": "acme-home", "ticket_id": "TK-1", "type": "consult"}
NOW = datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def ended() -> Iterator[queue.Queue[Any]]:
    """Executions as the twin's listener gets them, in a mock where moto executes the ASL."""
    execution_events.install()
    got: queue.Queue[Any] = queue.Queue()
    unsubscribe = execution_events.listen(got.put)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield got
    unsubscribe()


def _machine(name: str, definition: dict[str, Any]) -> str:
    """A state machine of its own (unique name: nothing else in this process's moto has it)."""
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def _start(machine: str, name: str = "TK-1") -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return str(
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(STARTED_WITH))[
            "executionArn"
        ]
    )


def _next(got: queue.Queue[Any]) -> Any:
    return got.get(timeout=20)


def test_a_failed_execution_is_one_status_change_as_aws_sends_it(ended: queue.Queue[Any]) -> None:
    # Given a workflow that fails
    machine = _machine(
        "events-failed",
        {
            "StartAt": "Boom",
            "States": {"Boom": {"Type": "Fail", "Error": "Scrm.Broken", "Cause": "a node broke"}},
        },
    )
    # When an execution runs
    arn = _start(machine)
    execution = _next(ended)
    # Then the listener gets it once, and the event is the one EventBridge would carry
    event = execution_events.status_change_event(execution, NOW, event_id="e-1")
    detail = event.pop("detail")
    assert event == {
        "version": "0",
        "id": "e-1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-23T01:00:00Z",
        "region": REGION,
        "resources": [arn],
    }
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=arn)
    assert detail == {
        "executionArn": arn,
        "stateMachineArn": machine,
        "name": "TK-1",
        "status": "FAILED",
        "startDate": int(described["startDate"].timestamp() * 1000),
        "stopDate": int(described["stopDate"].timestamp() * 1000),
        "input": json.dumps(STARTED_WITH),
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": "Scrm.Broken",
        "cause": "a node broke",
    }
    assert detail["startDate"] <= detail["stopDate"]
    assert ended.empty()


def test_stop_execution_while_a_task_waits_for_its_token_ends_it_aborted(ended: queue.Queue[Any]) -> None:
    # Given an execution parked on a waitForTaskToken task (as every human node is)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=f"tokens-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    machine = _machine(
        "events-parked",
        {
            "StartAt": "Park",
            "States": {
                "Park": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Fail", "Error": "Scrm.Caught"},
            },
        },
    )
    arn = _start(machine)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages"), "never parked"
    # When it is stopped, with an error and a cause
    sfn.stop_execution(executionArn=arn, error="Ops.Cancelled", cause="cancelled by u-lin: duplicate")
    execution = _next(ended)
    # Then it ends ABORTED (not RUNNING for ever, not FAILED by the woken task or its Catch), once
    described = sfn.describe_execution(executionArn=arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Ops.Cancelled",
        "cancelled by u-lin: duplicate",
    )
    detail = execution_events.status_change_event(execution, NOW)["detail"]
    assert (detail["status"], detail["error"], detail["cause"]) == (
        "ABORTED",
        "Ops.Cancelled",
        "cancelled by u-lin: duplicate",
    )
    # And stopping it again changes nothing and tells nobody
    sfn.stop_execution(executionArn=arn)
    with pytest.raises(queue.Empty):
        ended.get(timeout=1)


def test_stop_without_a_reason_has_no_error_or_cause(ended: queue.Queue[Any]) -> None:
    machine = _machine(
        "events-wait",
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}},
    )
    arn = _start(machine)
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arn)
    detail = execution_events.status_change_event(_next(ended), NOW)["detail"]
    assert (detail["status"], detail["error"], detail["cause"]) == ("ABORTED", None, None)


def test_a_succeeded_execution_carries_its_output(ended: queue.Queue[Any]) -> None:
    machine = _machine(
        "events-ok",
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}},
    )
    _start(machine)
    detail = execution_events.status_change_event(_next(ended), NOW)["detail"]
    assert detail["status"] == "SUCCEEDED"
    assert json.loads(detail["output"]) == {"ok": True} and detail["outputDetails"] == {"included": True}
    assert detail["error"] is None and detail["cause"] is None


def test_unversioned_state_machine_arns() -> None:
    base = "arn:aws:states:us-east-1:123456789012:stateMachine:scrm-acme-home-install"
    assert execution_events.unversioned(base) == base
    assert execution_events.unversioned(base + ":3") == base
    assert execution_events.unversioned(base + ":live") == base
