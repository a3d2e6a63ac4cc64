"""One-time EventBridge Scheduler schedules (``at()``), used by SLA reminders and dispatch offers.

Schedules are named deterministically by their caller, so creating one twice is harmless
(``ConflictException`` means it exists) and deleting a missing one is not an error.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.settings import settings

_NAME_OK = re.compile(r"[^0-9A-Za-z_.-]")


def schedule_name(*parts: str) -> str:
    """A valid schedule name (≤ 64 of [0-9A-Za-z_.-]) that is stable for the same parts."""
    raw = "-".join(parts)
    clean = _NAME_OK.sub("_", raw)
    if len(clean) <= 64:
        return clean
    digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return f"{clean[:47]}-{digest}"


class OneTimeScheduler:
    def __init__(self, client: Any | None = None) -> None:
        cfg = settings()
        self._client = client or boto3.client("scheduler", region_name=cfg.region)
        self.group = cfg.scheduler_group
        self.role_arn = cfg.scheduler_role_arn

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
                Target={"Arn": target_arn, "RoleArn": self.role_arn, "Input": json.dumps(payload)},
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
