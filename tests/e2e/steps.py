"""Steps the e2e tests take through the twin's API, written once."""

from __future__ import annotations

from typing import Any

from infra.twin.client import Answer, TwinClient


def act(client: TwinClient, ticket_id: str, action: str, fields: dict[str, Any], version: Any) -> Answer:
    """Take `action` on the ticket, at the `version` the caller last read."""
    return client.post(
        f"/tickets/{ticket_id}/actions", {"action": action, "fields": fields, "version": version}
    )


def complete_and_confirm(
    technician: TwinClient, agent: TwinClient, ticket_id: str, version: Any, on_site: dict[str, Any]
) -> None:
    """The technician completes the on-site job with `on_site`; the customer confirms it (5 stars)."""
    done = act(technician, ticket_id, "complete", on_site, version)
    assert done.status == 200, done.body
    confirm = agent.wait_ready(ticket_id, node="customer_confirm")
    confirmed = act(agent, ticket_id, "confirm", {"satisfaction": "5"}, confirm["version"])
    assert confirmed.status == 200, confirmed.body


def settlement_replay(tenant: str, ticket_id: str) -> dict[str, str]:
    """The settle task's input, as Step Functions would deliver it again."""
    return {
        "tenant": tenant,
        "ticket_id": ticket_id,
        "node": "settle",
        "kind": "settlement",
        "execution": "x",
    }
