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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from shared.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_scheduler.type_defs import TargetTypeDef

    from shared.follow_ups import FollowUpTimers
    from shared.sla_clock import OneTimeSchedules, SchedulerSla

MAX_RETRY_ATTEMPTS = 10
MAX_EVENT_AGE_SECONDS = 3600


class OneTimeScheduler:
    """Schedules of the group, role and dead-letter queue of the function's settings.

    Those are read when a schedule is made, not when the scheduler is built: the ticket functions
    share one built scheduler in a process (``functions/ticket/wiring.py``), and in the local twin
    that process hosts all of them, each with its own environment (only the functions that create
    schedules have ``SCHEDULER_DLQ_ARN``). In AWS the values never change in a container.
    """

    def __init__(self, client: Any | None = None) -> None:
        self._client = client or boto3.client("scheduler", region_name=settings().region)

    @property
    def group(self) -> str:
        return settings().scheduler_group

    def target(self, target_arn: str, payload: dict[str, Any]) -> TargetTypeDef:
        """The ``Target`` of a schedule: input, role, retry policy and dead-letter queue."""
        cfg = settings()
        target: TargetTypeDef = {
            "Arn": target_arn,
            "RoleArn": cfg.scheduler_role_arn,
            "Input": json.dumps(payload),
            "RetryPolicy": {
                "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
            },
        }
        if cfg.scheduler_dlq_arn:
            target["DeadLetterConfig"] = {"Arn": cfg.scheduler_dlq_arn}
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


def follow_up_timers(schedules: OneTimeSchedules | None = None) -> FollowUpTimers:
    """Follow-ups on AWS: this group's schedules, targeting the ticket service's follow-up function
    (read when a schedule is made: see ``OneTimeScheduler``)."""
    from shared.follow_ups import FollowUpTimers

    return FollowUpTimers(schedules or OneTimeScheduler(), lambda: settings().follow_up_function_arn)


def sla_scheduler() -> SchedulerSla:
    """The SLA clocks on AWS: this group's schedules, targeting the reminders function."""
    from shared.sla_clock import SchedulerSla

    return SchedulerSla(OneTimeScheduler(), settings().reminder_function_arn)
