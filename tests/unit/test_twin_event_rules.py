"""The twin's delivery of events to EventBridge rules with a pattern (``infra/twin/rules.py``):
matching by moto's own matcher, asynchronous delivery, Lambda's retries, the dead-letter queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern

from infra.twin.lambdas import FunctionFailed
from infra.twin.rules import InvokeConfig, PatternRule, PatternRules

PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:scrm-"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/scrm-executions-stopped"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:scrm-ticket-failed"
DLQ = "arn:aws:sqs:us-east-1:123456789012:recovery-dlq"
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def _rule(**target: Any) -> PatternRule:
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [{"prefix": PREFIX}]},
    }
    return PatternRule(
        "scrm-executions-stopped",
        RULE_ARN,
        EventPattern.load(json.dumps(pattern)),
        [{"Id": "Target0", "Arn": FUNCTION_ARN, **target}],
    )


def _event(status: str = "FAILED", machine: str = "scrm-acme-home-install") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-23T01:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"stateMachineArn": PREFIX.removesuffix("scrm-") + machine, "status": status},
    }


class Lambdas:
    """Answers from a script: a value, or an exception to raise."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, Any]] = []

    def invoke(self, name: str, event: Any) -> Any:
        self.calls.append((name, event))
        answer = self.answers.pop(0) if self.answers else {"handled": True}
        if isinstance(answer, Exception):
            raise answer
        return answer


class Sqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs.local/{QueueName}"}

    def send_message(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def _rules(
    lambdas: Lambdas, sqs: Sqs, rule: PatternRule, lines: list[str] | None = None, **configs: InvokeConfig
) -> PatternRules:
    return PatternRules(
        [rule],
        invoke=lambdas.invoke,
        log=(lines if lines is not None else []).append,
        invoke_configs=configs,
        sqs=lambda: sqs,
        now=lambda: NOW,
    )


def test_only_matching_events_are_delivered_once_each() -> None:
    lambdas, sqs = Lambdas(), Sqs()
    rules = _rules(lambdas, sqs, _rule())
    for event in (_event("SUCCEEDED"), _event("FAILED", machine="billing"), _event("RUNNING")):
        assert rules.put(event) == []
    (delivery,) = rules.put(_event("ABORTED"))
    assert delivery.done.wait(5)
    assert lambdas.calls == [("scrm-ticket-failed", _event("ABORTED"))]
    assert (delivery.answer, delivery.attempts, delivery.error) == ({"handled": True}, 1, None)
    assert sqs.sent == []


def test_a_constant_input_replaces_the_event() -> None:
    lambdas = Lambdas()
    (delivery,) = _rules(lambdas, Sqs(), _rule(Input='{"tenant": "acme-home"}')).put(_event())
    assert delivery.done.wait(5)
    assert lambdas.calls == [("scrm-ticket-failed", {"tenant": "acme-home"})]


def test_a_failing_function_is_retried_then_its_record_goes_to_the_on_failure_queue() -> None:
    # Given a function that fails every time, retried twice, with an on-failure SQS destination
    boom = FunctionFailed("Conflict", "the ticket kept changing")
    lambdas, sqs = Lambdas(boom, boom, boom), Sqs()
    lines: list[str] = []
    rules = _rules(lambdas, sqs, _rule(), lines, **{"scrm-ticket-failed": InvokeConfig(2, DLQ)})
    # When the event is delivered
    (delivery,) = rules.put(_event())
    assert delivery.done.wait(5)
    # Then three invocations, then Lambda's invocation record in the queue, and one log line
    assert len(lambdas.calls) == 3 and delivery.attempts == 3
    assert delivery.dead_lettered_to == DLQ
    (sent,) = sqs.sent
    assert sent["QueueUrl"] == "https://sqs.local/recovery-dlq"
    record = json.loads(sent["MessageBody"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:scrm-ticket-failed:$LATEST")
    assert record["requestPayload"] == _event()
    assert record["responsePayload"] == {"errorType": "Conflict", "errorMessage": "the ticket kept changing"}
    (line,) = lines
    assert "failed 3 time(s)" in line and DLQ in line


def test_a_retry_that_succeeds_sends_nothing() -> None:
    lambdas, sqs = Lambdas(FunctionFailed("Timeout", "slow"), {"handled": True}), Sqs()
    (delivery,) = _rules(lambdas, sqs, _rule()).put(_event())
    assert delivery.done.wait(5)
    assert (delivery.attempts, delivery.answer, sqs.sent) == (2, {"handled": True}, [])


def test_a_missing_function_sends_the_event_to_the_rule_targets_dead_letter_queue() -> None:
    lambdas = Lambdas(
        FunctionFailed("ResourceNotFoundException", "function scrm-ticket-failed is not deployed")
    )
    sqs = Sqs()
    rules = _rules(lambdas, sqs, _rule(DeadLetterConfig={"Arn": DLQ}))
    (delivery,) = rules.put(_event())
    assert delivery.done.wait(5)
    # not retried: EventBridge does not retry a target that does not exist
    assert delivery.attempts == 1 and delivery.dead_lettered_to == DLQ
    (sent,) = sqs.sent
    assert json.loads(sent["MessageBody"]) == _event()
    attributes = {k: v["StringValue"] for k, v in sent["MessageAttributes"].items()}
    assert attributes == {
        "RULE_ARN": RULE_ARN,
        "TARGET_ARN": FUNCTION_ARN,
        "ERROR_CODE": "RESOURCE_NOT_FOUND",
        "ERROR_MESSAGE": "function scrm-ticket-failed is not deployed",
    }


def test_without_a_destination_the_failure_is_logged_not_lost_silently() -> None:
    boom = FunctionFailed("ValueError", "bad")
    lambdas, sqs = Lambdas(boom, boom, boom), Sqs()
    lines: list[str] = []
    rules = _rules(lambdas, sqs, _rule(), lines)
    (delivery,) = rules.put(_event())
    assert delivery.done.wait(5)
    assert sqs.sent == [] and delivery.error == "ValueError: bad"
    (line,) = lines
    assert "event dropped (no on-failure destination)" in line
