"""EventBridge rules with a schedule, fired by the twin's clock.

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
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from infra.twin.lambdas import function_of

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
