"""Steps the e2e tests take through the twin's API, written once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from infra.twin.client import Answer, TwinClient

T = TypeVar("T")


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


def eventually(
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    every: float = 0.02,
    what: str = "",
) -> T:
    """``read()`` again every ``every`` seconds until ``done`` says so, past ``timeout`` seconds a
    failure that shows the last value: what a consumer folds later (the revenue aggregates, from the
    table's stream) is waited for, never slept for."""
    deadline = time.monotonic() + timeout
    last = read()
    while not done(last):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or read}; last: {last!r}")
        time.sleep(every)
        last = read()
    return last


def wait_past_dispatch(agent: TwinClient, ticket_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """An install ticket once dispatch handled it (at on_site or manual_dispatch, waiting for a
    person); skips the test while dispatch is not built."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = agent.get(f"/tickets/{ticket_id}").body
        if last.get("status") == "failed":
            pytest.skip(f"dispatch is not available yet: the ticket failed ({last.get('reason')})")
        if last.get("ready") and last.get("node") in ("on_site", "manual_dispatch"):
            return last
        time.sleep(0.05)
    pytest.skip(f"dispatch is not available yet: the execution stopped at {last.get('node')}")


def at_technician(agent: TwinClient, dispatcher: TwinClient, ticket_id: str) -> dict[str, Any]:
    """An install ticket at on_site with a technician: dispatch's, or t-wang assigned by the
    dispatcher when no candidate scored."""
    ticket = wait_past_dispatch(agent, ticket_id)
    if ticket["node"] == "manual_dispatch":
        assigned = act(dispatcher, ticket_id, "assign", {"technician": "t-wang"}, ticket["version"])
        assert assigned.status == 200, assigned.body
        ticket = agent.wait_ready(ticket_id, node="on_site")
    return ticket
