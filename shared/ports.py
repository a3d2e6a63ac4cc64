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

    def send_failure(self, token: str, error: str, cause: str) -> None:
        """Fail a parked task with ``error`` (a route error its Catch follows); ``TaskTokenGone`` as above."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...


class SlaScheduler(Protocol):
    """SLA clocks of a ticket's nodes (functions/reminders implements it)."""

    def start(self, cfg: Any, ticket: Any, node: str) -> dict[str, Any] | None:
        """The ticket entered ``node``: schedule its reminders; return the SLA state to store on the
        ticket (``None`` when the node has no SLA target). Idempotent for the same ticket visit."""
        ...

    def stop(self, cfg: Any, ticket: Any, node: str) -> None:
        """The ticket left ``node``: remove its pending reminders (stale ones are ignored when fired)."""
        ...


class Workload(Protocol):
    """Technicians' open-ticket load (functions/dispatch implements it)."""

    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None:
        """The ticket left the technician (closed, cancelled): lower the load once, idempotently."""
        ...

    def take(self, technician_id: str, ticket: Any, *, expected_version: int, event: Any) -> None:
        """A person assigned the ticket (manual dispatch): in one transaction raise the technician's
        load (only while active and below capacity) and save the ticket at ``expected_version``.
        Raises ``Conflict`` when either side refuses."""
        ...


class Timers(Protocol):
    """One-time timers by name (``shared.adapters.scheduler.OneTimeScheduler`` implements it)."""

    def delete(self, name: str) -> None:
        """Remove the timer; a timer that is gone (fired, deleted) is not an error."""
        ...


class NoSla:
    """For tenants and ticket types without SLA policies, and for unit tests that ignore SLAs."""

    def start(self, cfg: Any, ticket: Any, node: str) -> dict[str, Any] | None:
        return None

    def stop(self, cfg: Any, ticket: Any, node: str) -> None:
        return None
