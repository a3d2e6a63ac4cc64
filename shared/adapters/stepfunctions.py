"""WorkflowEngine on AWS Step Functions."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.ports import TaskTokenGone
from shared.settings import settings
from shared.workflow.compiler import state_machine_name

LIVE_ALIAS = "live"
_GONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken", "ExecutionDoesNotExist"}


class StepFunctionsEngine:
    def __init__(self, client: Any | None = None) -> None:
        self._client = client or boto3.client("stepfunctions", region_name=settings().region)

    def _alias_arn(self, tenant: str, ticket_type: str) -> str:
        return f"{settings().state_machine_arn_prefix}{state_machine_name(tenant, ticket_type)}:{LIVE_ALIAS}"

    def _live_version(self, tenant: str, ticket_type: str) -> str:
        """The version the ``live`` alias routes to (the latest deploy's).

        Resolving it here, rather than starting on the alias, lets the ticket record the exact
        version it runs on before the first state executes.
        """
        alias = self._client.describe_state_machine_alias(
            stateMachineAliasArn=self._alias_arn(tenant, ticket_type)
        )
        routes = sorted(alias["routingConfiguration"], key=lambda r: -int(r["weight"]))
        return str(routes[0]["stateMachineVersionArn"])

    def start(
        self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        """``ticket_id`` names the execution (``<id>`` or ``<id>-r<n>``); the input gets the version,
        which the Tasks pass to the park task (``$.workflow_version``)."""
        version = self._live_version(tenant, ticket_type)
        machine = version.rsplit(":", 1)[0]
        document = {"resume_at": None, **payload, "workflow_version": version}
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
