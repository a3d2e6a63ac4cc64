"""One-time EventBridge Scheduler schedules (``at()``), used by SLA reminders and dispatch offers.

Schedules are named deterministically by their caller, so creating one twice is harmless
(``ConflictException`` means it exists) and deleting a missing one is not an error.

Every schedule carries a retry policy (``MAX_RETRY_ATTEMPTS`` attempts within
``MAX_EVENT_AGE_SECONDS``) and, when the environment names one (``SCHEDULER_DLQ_ARN``), a
dead-letter queue: an invocation that still fails after the retries lands there instead of
being dropped. The platform stack creates that queue beside the schedule group.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from shared.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_scheduler.type_defs import TargetTypeDef

MAX_RETRY_ATTEMPTS = 10
MAX_EVENT_AGE_SECONDS = 3600
DLQ_ENV = "SCHEDULER_DLQ_ARN"
"""Environment variable with the ARN of the schedules' dead-letter queue (SQS)."""


class OneTimeScheduler:
    def __init__(self, client: Any | None = None) -> None:
        cfg = settings()
        self._client = client or boto3.client("scheduler", region_name=cfg.region)
        self.group = cfg.scheduler_group
        self.role_arn = cfg.scheduler_role_arn
        # read here until the settings model has the field (then the settings value wins)
        self.dlq_arn: str = getattr(cfg, "scheduler_dlq_arn", "") or os.environ.get(DLQ_ENV, "")

    def target(self, target_arn: str, payload: dict[str, Any]) -> TargetTypeDef:
        """The ``Target`` of a schedule: input, role, retry policy and dead-letter queue."""
        target: TargetTypeDef = {
            "Arn": target_arn,
            "RoleArn": self.role_arn,
            "Input": json.dumps(payload),
            "RetryPolicy": {
                "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
            },
        }
        if self.dlq_arn:
            target["DeadLetterConfig"] = {"Arn": self.dlq_arn}
        return target

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None:
        """Invoke ``target_arn`` with ``payload`` once at ``when`` (UTC); the schedule deletes itself."""
        expression = f"at({when.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=expression,
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=self.target(target_arn, payload),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise

    def delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
