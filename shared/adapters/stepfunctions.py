"""WorkflowEngine on AWS Step Functions.

A new ticket starts on the version its tenant's latest deploy published, read from the tenant's
deployed configuration object (``shared.tenant.store.live_version``, cached per container), not from
the ``live`` alias: ``DescribeStateMachineAlias`` is a control-plane API with a tiny rate quota, and
calling it per ticket capped the whole account at about one new ticket a second. The alias stays
for people and tools. The one remaining Describe call, ``DescribeExecution``, only runs when a start
is retried for an execution that already exists (to learn the version that one runs on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.ports import TaskTokenGone
from shared.settings import settings

_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist"}


def _deployed_version(tenant: str, ticket_type: str) -> str:
    from shared.tenant.store import live_version

    return live_version(tenant, ticket_type)


class StepFunctionsEngine:
    def __init__(
        self, client: Any | None = None, live_version: Callable[[str, str], str] | None = None
    ) -> None:
        """``live_version(tenant, ticket_type)``: the version ARN a new execution starts on (by
        default the tenant's deployed configuration says it)."""
        self._client = client or boto3.client("stepfunctions", region_name=settings().region)
        self._live_version = live_version or _deployed_version

    def start(
        self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        """``ticket_id`` names the execution (``<id>`` or ``<id>-r<n>``); the input gets the version,
        which the Tasks pass to the park task (``$.workflow_version``).

        Starting on the version ARN itself (rather than the alias) lets the ticket record the exact
        version it runs on before the first state executes."""
        version = self._live_version(tenant, ticket_type)
        machine = version.rsplit(":", 1)[0]
        # ``type`` and ``resume_at`` always: the start node's Task reads them (a retry's resume)
        document = {"type": ticket_type, "resume_at": None, **payload, "workflow_version": version}
        try:
            answer = self._client.start_execution(
                stateMachineArn=version, name=ticket_id, input=json.dumps(document)
            )
        except ClientError as exc:
            # Same name within 90 days: the ticket's workflow already runs (a retried start).
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            arn = machine.replace(":stateMachine:", ":execution:") + f":{ticket_id}"
            return arn, self.version_of(arn) or version
        return str(answer["executionArn"]), version

    def planned(self, tenant: str, ticket_type: str, execution_name: str) -> tuple[str, str]:
        """What ``start`` will answer for a new execution of this name: its ARN (an execution of a
        version is named under its state machine) and the live version, from the cached config."""
        version = self._live_version(tenant, ticket_type)
        machine = version.rsplit(":", 1)[0]
        return machine.replace(":stateMachine:", ":execution:") + f":{execution_name}", version

    def version_of(self, execution_arn: str) -> str | None:
        answer = self._client.describe_execution(executionArn=execution_arn)
        return answer.get("stateMachineVersionArn") or answer.get("stateMachineArn")

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _GONE:
                raise TaskTokenGone(exc.response["Error"].get("Message", "")) from exc
            raise

    def send_failure(self, token: str, error: str, cause: str) -> None:
        try:
            self._client.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _GONE:
                raise TaskTokenGone(exc.response["Error"].get("Message", "")) from exc
            raise

    def stop(self, execution_arn: str, cause: str) -> None:
        try:
            self._client.stop_execution(executionArn=execution_arn, cause=cause[:256])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in _GONE:
                raise
