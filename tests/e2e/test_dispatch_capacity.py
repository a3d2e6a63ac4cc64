"""Dispatch never overloads anyone: 10 tickets against 3 technicians whose capacities total 6.

Runs on its own twin (tenant ``tests/fixtures/tenants/dispatch-lab.yaml``) in a child process
(``tests/child_twin.py``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.twin.client import TwinClient
from tests.child_twin import ROOT, child_twin

LAB = ROOT / "tests" / "fixtures" / "tenants" / "dispatch-lab.yaml"
TENANT = "dispatch-lab"
CAPACITY = {"t-a": 3, "t-b": 2, "t-c": 1}
DISPATCHER_PHONE = "+8613800009001"


@pytest.fixture(scope="module")
def lab() -> Iterator[TwinClient]:
    """A twin of the dispatch-lab tenant in a child process, on a free port, manual clock."""
    with child_twin([LAB], name="dispatch-lab") as client:
        yield client


def loads(dispatcher: TwinClient) -> dict[str, int]:
    answer = dispatcher.get("/technicians")
    assert answer.status == 200, answer.body
    return {t["id"]: t["load"] for t in answer.body["items"]}


def settled(client: TwinClient, ticket_id: str, attempt: int, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the ticket's dispatch ``attempt`` is done and it waits at on_site or manual_dispatch."""
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        body = client.get(f"/tickets/{ticket_id}").body
        if (
            (body.get("dispatch") or {}).get("attempt") == attempt
            and body.get("ready")
            and body.get("node") in ("on_site", "manual_dispatch")
        ):
            return dict(body)
        time.sleep(0.05)
    raise TimeoutError(f"ticket {ticket_id} did not settle after dispatch attempt {attempt}: {body}")


def loads_become(dispatcher: TwinClient, expected: dict[str, int], timeout: float = 15.0) -> dict[str, int]:
    """The loads once they match ``expected`` (the end step closes the ticket, then releases the
    technician, in one invocation: a read in between sees the ticket closed and the load not yet
    lowered); never over capacity at any read."""
    deadline = time.monotonic() + timeout
    while True:
        now = loads(dispatcher)
        assert all(now[t] <= CAPACITY[t] for t in CAPACITY), now
        if now == expected or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def holders(tickets: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Open tickets each technician holds (assigned at on_site), from the tickets themselves."""
    held = dict.fromkeys(CAPACITY, 0)
    for body in tickets.values():
        if body["status"] == "open" and body["node"] == "on_site":
            held[body["assignee"]["id"]] += 1
    return held


def test_ten_tickets_against_a_capacity_of_six(lab: TwinClient) -> None:
    agent = lab.as_user(TENANT, "u-agent", ["agent"])
    dispatcher = lab.as_user(TENANT, "u-disp", ["dispatcher"])
    assert loads(dispatcher) == dict.fromkeys(CAPACITY, 0)

    # Given 10 tickets created one after the other
    tickets: dict[str, dict[str, Any]] = {}
    for n in range(10):
        created = agent.post(
            "/tickets", {"type": "repair", "fields": {"customer_name": f"c{n}", "region": "CN-BJ"}}
        )
        assert created.status == 201, created.body
        body = settled(agent, created.body["id"], attempt=1)
        tickets[body["id"]] = body
        # Then nobody is ever over capacity, and the loads are the tickets held
        now = loads(dispatcher)
        assert all(now[t] <= CAPACITY[t] for t in CAPACITY), now
        assert now == holders(tickets), (now, holders(tickets))

    at_site = [b for b in tickets.values() if b["node"] == "on_site"]
    manual = [b for b in tickets.values() if b["node"] == "manual_dispatch"]
    # exactly 6 assigned (everyone full), 4 to manual dispatch
    assert len(at_site) == 6 and len(manual) == 4
    assert loads(dispatcher) == CAPACITY
    for body in manual:
        assert body["assignee"] == {"kind": "role", "id": "dispatcher"}, body
        assert body["dispatch"]["technician"] is None
        assert body["dispatch"]["explanation"]["filtered"] == {"capacity": 3}
    for body in at_site:
        assert body["assignee"]["kind"] == "technician"
        assert body["dispatch"]["explanation"]["top"][0]["technician"] == body["assignee"]["id"]

    # And the dispatchers were told about each ticket nobody could take (SMS: the one with a phone)
    texts = [
        m["body"]
        for m in lab.get("/_local/messages").body["messages"]
        if m["channel"] == "sms" and m["to"] == DISPATCHER_PHONE
    ]
    for body in manual:
        assert sum(body["id"] in text for text in texts) == 1, (body["id"], texts)

    # When a ticket of t-b and one of t-c are completed by their technicians
    held_by = {t: [b for b in at_site if b["assignee"]["id"] == t] for t in CAPACITY}
    assert {t: len(v) for t, v in held_by.items()} == CAPACITY
    for body in (held_by["t-b"][0], held_by["t-c"][0]):
        technician = lab.as_user(TENANT, body["assignee"]["id"], ["technician"])
        answer = technician.post(
            f"/tickets/{body['id']}/actions", {"action": "complete", "fields": {}, "version": body["version"]}
        )
        assert answer.status == 200, answer.body
        tickets[body["id"]] = agent.wait_status(body["id"], "closed")
        now = loads_become(dispatcher, holders(tickets))
        assert now == holders(tickets), (now, holders(tickets))
    assert loads(dispatcher) == {"t-a": 3, "t-b": 1, "t-c": 0}

    # And t-a declines one of theirs
    declined = held_by["t-a"][0]
    technician = lab.as_user(TENANT, "t-a", ["technician"])
    answer = technician.post(
        f"/tickets/{declined['id']}/actions",
        {"action": "decline", "fields": {}, "version": declined["version"]},
    )
    assert answer.status == 200, answer.body

    # Then it is dispatched again, without t-a, to someone who has room (t-b or t-c)
    again = settled(agent, declined["id"], attempt=2)
    tickets[declined["id"]] = again
    assert again["dispatch"]["declined"] == ["t-a"]
    assert again["dispatch"]["explanation"]["filtered"].get("declined") == 1
    assert again["node"] == "on_site", again
    assert again["assignee"]["id"] in ("t-b", "t-c")

    # And every load equals the open tickets that technician holds, within capacity
    final = loads_become(dispatcher, holders(tickets))
    assert final == holders(tickets), (final, holders(tickets))
    assert all(final[t] <= CAPACITY[t] for t in CAPACITY)
    assert sum(final.values()) == 4  # 6, minus 2 completed, minus the decline, plus its re-dispatch
    assert final["t-a"] == 2
