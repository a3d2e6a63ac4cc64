"""A Catch that leads back to the failing state re-enters it on the twin, as in AWS (moto_fixes)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from moto import mock_aws

from infra.twin import moto_fixes

REGION = "us-east-1"
DEFINITION = {
    "StartAt": "Wait",
    "States": {
        "Wait": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl.$": "$.queue", "MessageBody": {"token.$": "$$.Task.Token"}},
            "ResultPath": "$.result",
            "Catch": [{"ErrorEquals": ["Scrm.Route.again"], "ResultPath": "$.result", "Next": "Wait"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _token(sqs: Any, queue: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
            return str(json.loads(message["Body"])["token"])
        time.sleep(0.05)
    raise TimeoutError("the task never sent its token")


def test_a_catch_to_the_same_state_enters_it_again() -> None:
    moto_fixes.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        machine = sfn.create_state_machine(
            name="loop", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        run = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"queue": queue}))["executionArn"]
        sfn.send_task_failure(taskToken=_token(sqs, queue), error="Scrm.Route.again", cause="{}")
        sfn.send_task_success(taskToken=_token(sqs, queue), output="{}")  # a second visit of Wait
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=run)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sfn.describe_execution(executionArn=run)["status"] == "SUCCEEDED"
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in sfn.get_execution_history(executionArn=run)["events"]
            if "stateEnteredEventDetails" in e
        ]
        assert entered == ["Wait", "Wait", "Done"]


def test_a_callback_sent_while_another_execution_starts_reaches_its_own() -> None:
    """moto reads every execution's ``exec_worker.env``, None while one is starting: without the fix
    a SendTaskFailure/Success at that moment is an AttributeError (a 500) instead of being delivered."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends as stepfunctions_backends

    moto_fixes.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        queue = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        machine = sfn.create_state_machine(
            name="loop", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        other = sqs.create_queue(QueueName="other-tokens")["QueueUrl"]
        starting = sfn.start_execution(  # listed before the execution the callbacks are for
            stateMachineArn=machine, name="starting", input=json.dumps({"queue": other})
        )
        run = sfn.start_execution(
            stateMachineArn=machine, name="waiting", input=json.dumps({"queue": queue})
        )["executionArn"]
        token = _token(sqs, queue)
        backend = stepfunctions_backends[DEFAULT_ACCOUNT_ID][REGION]
        records: list[Any] = [e for sm in backend.state_machines for e in sm.executions]
        (record,) = [e for e in records if e.exec_arn == starting["executionArn"]]
        worker_env = record.exec_worker.env
        record.exec_worker.env = None  # as it is before the worker thread has run
        try:
            sfn.send_task_failure(taskToken=token, error="Scrm.Route.again", cause="{}")
            sfn.send_task_success(taskToken=_token(sqs, queue), output="{}")
        finally:
            record.exec_worker.env = worker_env
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=run)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sfn.describe_execution(executionArn=run)["status"] == "SUCCEEDED"
