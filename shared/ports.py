"""What the domain logic needs from the outside world, as protocols (adapters in shared/adapters)."""

from __future__ import annotations

from typing import Any, Protocol


class TaskTokenGone(Exception):
    """The parked task token is no longer valid (timed out, execution stopped or gone)."""


class WorkflowEngine(Protocol):
    def start(
        self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        """Start on the live version, idempotently (the execution is named after the ticket).

        Returns the execution ARN and the state machine version ARN it runs on.
        """
        ...

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        """Resume a parked task; raises ``TaskTokenGone`` when the token no longer works."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...
