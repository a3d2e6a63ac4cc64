"""EventBridge rules in the twin: scheduled rules fired by its clock, and rules with an event pattern
that receive the events the twin emits on AWS's behalf.

Scheduled rules
---------------

moto's CloudFormation deploys ``AWS::Events::Rule`` with its targets, but moto never fires a
schedule. The twin reads the deployed rules once after deploying (``ScheduledRules.load``) and,
each time its clock is looked at for due work (``LocalTwin.fire_due``: every clock advance, and
every 0.25 s in real time), invokes the Lambda targets of the rules whose time has come:

- ``rate(N minute[s] | hour[s] | day[s])``: first at deploy + N, then every N, as EventBridge does;
- periods the clock jumped over are coalesced into ONE firing at the new instant. A gauge read now
  is the only truthful value; 348 firings stamped at the same instant after a 29-hour jump would
  only repeat it (in real time, and in small steps, every period fires);
- the target gets its constant ``Input``, or EventBridge's ``Scheduled Event`` envelope;
- ``cron(...)`` rules and non-Lambda targets are not fired, and the twin says so when it starts.

Rules with an event pattern (``PatternRules``)
----------------------------------------------
moto stores them but no AWS service in moto puts its events on the bus. The events the twin emits
for a service (``infra/twin/execution_events.py``: Step Functions execution status changes) are
matched against the enabled rules of the default bus with moto's own matcher (``EventPattern``)
and delivered to their Lambda targets as EventBridge does, asynchronously (a daemon thread per
target):

- the target gets the event itself, or its constant ``Input`` (``InputPath`` and
  ``InputTransformer`` are not emulated: such targets are listed when the twin starts, and skipped);
- a function that is not deployed is an undeliverable event, which EventBridge does not retry: it
  goes to the target's ``DeadLetterConfig`` queue at once, with EventBridge's message attributes
  (``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE`` ``RESOURCE_NOT_FOUND``, ``ERROR_MESSAGE``);
  throttling (retried per the target's ``RetryPolicy``) does not happen in the twin;
- a function error is retried as Lambda retries an asynchronous invocation (the function's
  ``AWS::Lambda::EventInvokeConfig`` ``MaximumRetryAttempts``, else 2), at once rather than after
  1 and 2 minutes; then the invocation record goes to its on-failure SQS destination, if any.
  Every failure is logged, one line each.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from infra.twin.deploy import ACCOUNT, REGION
from infra.twin.lambdas import FunctionFailed, function_of

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_period(expression: str) -> timedelta | None:
    """The period of a ``rate(...)`` expression; ``None`` for anything else (``cron(...)``)."""
    found = _RATE.match(expression.strip())
    if not found or int(found.group(1)) < 1:
        return None
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")])


@dataclass
class ScheduledRule:
    name: str
    arn: str
    period: timedelta
    targets: list[dict[str, Any]]  # Lambda targets as ListTargetsByRule gives them
    next_at: datetime

    def due(self, now: datetime) -> bool:
        """True (once) when ``now`` reached the next firing; moves it past ``now``."""
        if now < self.next_at:
            return False
        missed = (now - self.next_at) // self.period
        self.next_at += self.period * (missed + 1)
        return True

    def event(self, target: dict[str, Any], now: datetime, account: str, region: str) -> Any:
        """What the target receives: its constant ``Input``, else the scheduled-event envelope."""
        if target.get("Input"):
            return json.loads(target["Input"])
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [self.arn],
            "detail": {},
        }


def function_name(target_arn: str) -> str | None:
    """The function a target ARN names (``...:function:<name>[:qualifier]``), else ``None``."""
    if ":function:" not in target_arn:
        return None
    return function_of(target_arn)


class ScheduledRules:
    def __init__(self, rules: list[ScheduledRule]) -> None:
        self.rules = rules

    @classmethod
    def load(cls, events: Any, now: datetime, log: Callable[[str], None]) -> ScheduledRules:
        """The enabled rules with a ``rate()`` schedule and Lambda targets, first due one period on."""
        rules: list[ScheduledRule] = []
        for page in events.get_paginator("list_rules").paginate():
            for rule in page["Rules"]:
                expression = rule.get("ScheduleExpression")
                if not expression or rule.get("State", "ENABLED") != "ENABLED":
                    continue
                period = rate_period(expression)
                if period is None:
                    log(f"  rule {rule['Name']}: {expression} is not fired by the twin (rate() only)")
                    continue
                listed = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                lambdas = [t for t in listed if function_name(str(t["Arn"]))]
                for other in (t for t in listed if t not in lambdas):
                    log(f"  rule {rule['Name']}: target {other['Arn']} is not fired (Lambda targets only)")
                if lambdas:
                    rules.append(ScheduledRule(rule["Name"], rule["Arn"], period, lambdas, now + period))
        if rules:
            log(f"  fired by the twin clock: {len(rules)} scheduled EventBridge rule(s)")
        return cls(sorted(rules, key=lambda r: r.name))

    def due(self, now: datetime) -> list[tuple[ScheduledRule, dict[str, Any]]]:
        """(rule, target) of every rule due at ``now``, each rule once."""
        return [(rule, target) for rule in self.rules if rule.due(now) for target in rule.targets]


# ============================================================================ event-pattern rules
DEFAULT_LAMBDA_RETRIES = 2
"""Lambda retries a failed asynchronous invocation twice unless its EventInvokeConfig says otherwise."""


@dataclass(frozen=True)
class InvokeConfig:
    """A function's ``AWS::Lambda::EventInvokeConfig``: retries of asynchronous invocations, and where
    the record of one that still failed goes (an SQS queue ARN, or ``None``)."""

    retries: int = DEFAULT_LAMBDA_RETRIES
    on_failure: str | None = None


@dataclass
class PatternRule:
    name: str
    arn: str
    pattern: Any  # moto.events.models.EventPattern
    targets: list[dict[str, Any]]  # Lambda targets as ListTargetsByRule gives them

    def matches(self, event: Mapping[str, Any]) -> bool:
        return bool(self.pattern.matches_event(dict(event)))


@dataclass
class Delivery:
    """What became of one event at one target (for the log and tests)."""

    rule: str
    function: str
    payload: Any = None  # what the function was given (the event, or the target's constant Input)
    attempts: int = 0
    answer: Any = None
    error: str | None = None
    dead_lettered_to: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class PatternRules:
    """The enabled rules of the default bus with an event pattern and Lambda targets."""

    def __init__(
        self,
        rules: list[PatternRule],
        *,
        invoke: Callable[[str, Any], Any] | None = None,
        log: Callable[[str], None] = lambda _line: None,
        invoke_configs: Mapping[str, InvokeConfig] | None = None,
        sqs: Callable[[], Any] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.rules = rules
        self._invoke = invoke
        self._log = log
        self._invoke_configs = dict(invoke_configs or {})
        self._sqs = sqs
        self._now = now or (lambda: datetime.now().astimezone())
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    @staticmethod
    def load(events: Any, log: Callable[[str], None]) -> list[PatternRule]:
        """The deployed rules with an event pattern: enabled, on the default bus, with Lambda targets
        the twin can deliver to (the others are listed, once)."""
        from moto.events.models import EventPattern

        rules: list[PatternRule] = []
        for page in events.get_paginator("list_rules").paginate():  # the default bus's
            for rule in page["Rules"]:
                pattern = rule.get("EventPattern")
                if not pattern or rule.get("State", "ENABLED") != "ENABLED":
                    continue
                listed = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
                lambdas = [
                    t
                    for t in listed
                    if function_name(str(t["Arn"])) and not ({"InputPath", "InputTransformer"} & set(t))
                ]
                for other in (t for t in listed if t not in lambdas):
                    log(
                        f"  rule {rule['Name']}: target {other['Arn']} is not delivered to (Lambda targets "
                        "with the event or a constant Input only)"
                    )
                if lambdas:
                    rules.append(PatternRule(rule["Name"], rule["Arn"], EventPattern.load(pattern), lambdas))
        return sorted(rules, key=lambda r: r.name)

    def matching(self, event: Mapping[str, Any]) -> list[tuple[PatternRule, dict[str, Any]]]:
        """(rule, target) of every rule whose pattern matches ``event``."""
        return [(rule, target) for rule in self.rules if rule.matches(event) for target in rule.targets]

    def put(self, event: Mapping[str, Any]) -> list[Delivery]:
        """Deliver ``event`` to the targets of every matching rule, each on its own daemon thread
        (EventBridge is asynchronous); the deliveries, whose ``done`` is set when they finish."""
        started: list[Delivery] = []
        for rule, target in self.matching(event):
            function = str(function_name(str(target["Arn"])))
            payload = json.loads(target["Input"]) if target.get("Input") else dict(event)
            delivery = Delivery(rule.name, function, payload)
            with self._lock:
                self.deliveries.append(delivery)
            thread = threading.Thread(
                target=self._deliver,
                args=(rule, target, payload, delivery),
                name=f"twin-event-{rule.name}",
                daemon=True,
            )
            thread.start()
            started.append(delivery)
        return started

    def _deliver(self, rule: PatternRule, target: dict[str, Any], payload: Any, delivery: Delivery) -> None:
        try:
            self._deliver_once(rule, target, payload, delivery)
        except Exception as exc:  # the twin's own failure: say so, never lose the line
            delivery.error = f"{type(exc).__name__}: {exc}"
            self._log(f"rule {rule.name} -> {delivery.function}: delivery failed: {delivery.error}")
        finally:
            delivery.done.set()

    def _deliver_once(
        self, rule: PatternRule, target: dict[str, Any], payload: Any, delivery: Delivery
    ) -> None:
        if self._invoke is None:
            raise RuntimeError("no Lambda runtime to deliver to")
        config = self._invoke_configs.get(delivery.function, InvokeConfig())
        failure: FunctionFailed | None = None
        for _attempt in range(1 + max(0, config.retries)):
            delivery.attempts += 1
            try:
                delivery.answer = self._invoke(delivery.function, payload)
                return
            except FunctionFailed as exc:
                failure = exc
                if exc.error_type == "ResourceNotFoundException":
                    # not delivered at all; EventBridge does not retry a missing target: its DLQ at once
                    delivery.error = str(exc)
                    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
                    self._log(
                        f"rule {rule.name} -> {delivery.function}: {exc}"
                        + (f"; event sent to {dlq}" if dlq else "; event dropped (no DeadLetterConfig)")
                    )
                    if dlq:
                        self._send(dlq, json.dumps(payload), self._eventbridge_attributes(rule, target, exc))
                        delivery.dead_lettered_to = dlq
                    return
        assert failure is not None
        delivery.error = str(failure)
        where = config.on_failure if config.on_failure and ":sqs:" in config.on_failure else None
        if config.on_failure and where is None:
            self._log(f"  on-failure destination {config.on_failure} is not emulated (SQS only)")
        self._log(
            f"rule {rule.name} -> {delivery.function} failed {delivery.attempts} time(s): {failure}"
            + (
                f"; invocation record sent to {where}"
                if where
                else "; event dropped (no on-failure destination)"
            )
        )
        if where:
            self._send(where, json.dumps(self._invocation_record(delivery, payload, failure)), {})
            delivery.dead_lettered_to = where

    def _send(self, queue_arn: str, body: str, attributes: dict[str, Any]) -> None:
        if self._sqs is None:
            raise RuntimeError(f"no SQS client to send to {queue_arn}")
        sqs = self._sqs()
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)

    @staticmethod
    def _eventbridge_attributes(
        rule: PatternRule, target: dict[str, Any], exc: FunctionFailed
    ) -> dict[str, Any]:
        values = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": str(target["Arn"]),
            "ERROR_CODE": "RESOURCE_NOT_FOUND",
            "ERROR_MESSAGE": exc.message,
        }
        return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}

    def _invocation_record(self, delivery: Delivery, payload: Any, failure: FunctionFailed) -> dict[str, Any]:
        """Lambda's on-failure destination record of an asynchronous invocation."""
        return {
            "version": "1.0",
            "timestamp": self._now().isoformat(timespec="milliseconds"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{delivery.function}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": delivery.attempts,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": failure.error_type, "errorMessage": failure.message},
        }
