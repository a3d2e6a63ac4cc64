"""Dispatch through the twin: an install ticket is scored, assigned, declined and re-dispatched."""

from __future__ import annotations

import time
import warnings
from datetime import datetime, timedelta
from typing import Any

import pytest

from infra.twin.client import TwinClient
from shared.calendar import BusinessCalendar
from shared.tenant.loader import load_tenant_file
from tests.e2e.conftest import cancel_open_tickets
from tests.factories import EXAMPLES

INSTALL = {
    "customer_name": "张先生",
    "customer_phone": "+8613900000001",
    "address": "北京市东城区1号",
    "region": "CN-BJ",
    "location": {"lat": 39.91, "lon": 116.40},
}


@pytest.fixture(scope="module")
def dispatcher(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])


@pytest.fixture(scope="module")
def on_duty(anonymous: TwinClient) -> None:
    """The technicians' calendar must be open on the twin clock (it starts on a Monday at 09:00)."""
    cfg = load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    calendar = BusinessCalendar.from_config(cfg.calendars["default"])
    current = datetime.fromisoformat(anonymous.get("/_local/clock").body["now"])
    opening = calendar.next_open(current)
    if opening > current:  # only when another test moved the clock past opening hours
        anonymous.post("/_local/clock/advance", {"seconds": (opening - current).total_seconds() + 60})


def loads(client: TwinClient) -> dict[str, int]:
    answer = client.get("/technicians")
    assert answer.status == 200, answer.body
    return {t["id"]: t["load"] for t in answer.body["items"]}


ON_SITE_FORM = {"photos": ["p/1.jpg", "p/2.jpg"], "service_items": [{"code": "SVC-VISIT", "quantity": 1}]}


def decline(technician: TwinClient, ticket_id: str, version: int) -> Any:
    """Decline with an empty form, as a technician would.

    While the ticket service checks the node's form for every action (a decline included), an
    empty decline gets 422 naming the form's required fields; then the form is sent filled, with a
    warning, so the re-dispatch is still exercised.
    """
    path = f"/tickets/{ticket_id}/actions"
    answer = technician.post(path, {"action": "decline", "fields": {}, "version": version})
    if answer.status == 422 and {d["field"] for d in answer.body["details"]} == set(ON_SITE_FORM):
        warnings.warn("the ticket service requires the on_site form for a decline", stacklevel=2)
        answer = technician.post(path, {"action": "decline", "fields": ON_SITE_FORM, "version": version})
    return answer


def wait_dispatched(
    client: TwinClient, ticket_id: str, attempt: int, timeout: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        body = client.get(f"/tickets/{ticket_id}").body
        if (body.get("dispatch") or {}).get("attempt") == attempt and body.get("ready"):
            return dict(body)
        time.sleep(0.05)
    raise TimeoutError(f"ticket {ticket_id} was not dispatched (attempt {attempt}): {body}")


@pytest.mark.usefixtures("on_duty")
def test_install_ticket_is_dispatched_explained_declined_and_redispatched(
    agent: TwinClient, dispatcher: TwinClient, anonymous: TwinClient
) -> None:
    before = loads(dispatcher)

    # Given an install ticket in Beijing, when it is created
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]

    # Then the dispatch node assigns the best technician and on_site waits for them
    first = wait_dispatched(agent, ticket_id, attempt=1)
    assert first["node"] == "on_site", first
    explanation = first["dispatch"]["explanation"]
    best = explanation["top"][0]["technician"]
    assert first["dispatch"]["technician"] == best
    assert first["assignee"] == {"kind": "technician", "id": best}
    assert {c["technician"] for c in explanation["top"]} == {"t-wang", "t-li"}
    assert set(explanation["top"][0]["criteria"]["distance"]) == {
        "raw",
        "normalized",
        "weight",
        "contribution",
    }
    after_first = loads(dispatcher)
    assert after_first[best] == before[best] + 1

    # When that technician declines
    technician = anonymous.as_user("acme-home", best, ["technician"])
    declined = decline(technician, ticket_id, first["version"])
    assert declined.status == 200, declined.body

    # Then the ticket is dispatched again, to the other one, and the loads follow
    second = wait_dispatched(agent, ticket_id, attempt=2)
    other = ({"t-wang", "t-li"} - {best}).pop()
    assert second["node"] == "on_site"
    assert second["dispatch"]["technician"] == other
    assert second["dispatch"]["declined"] == [best]
    assert second["dispatch"]["explanation"]["filtered"].get("declined") == 1
    after_second = loads(dispatcher)
    assert after_second[best] == before[best]
    assert after_second[other] == before[other] + 1


def test_registry_is_for_dispatchers_and_checks_changes(
    agent: TwinClient, dispatcher: TwinClient, anonymous: TwinClient
) -> None:
    assert agent.get("/technicians").status == 403
    assert agent.request("PUT", "/technicians/t-li", {"capacity": 4}).status == 403
    assert anonymous.get("/technicians").status == 401

    bad = dispatcher.request("PUT", "/technicians/t-li", {"regions": ["CN-XX"], "skills": {"plumbing": 1}})
    assert bad.status == 422, bad.body
    assert [d["field"] for d in bad.body["details"]] == ["regions.0", "skills.plumbing"]
    assert dispatcher.request("PUT", "/technicians/t-li", {"capacity": 0}).status == 422
    assert dispatcher.request("PUT", "/technicians/t-nobody", {"capacity": 2}).status == 404

    changed = dispatcher.request("PUT", "/technicians/t-li", {"regions": ["CN-BJ", "CN-SH", "CN-CD"]})
    assert changed.status == 200, changed.body
    assert changed.body["regions"] == ["CN-BJ", "CN-SH", "CN-CD"]
    assert changed.body["updated_by"] == "u-zhao"
    listed = {t["id"]: t for t in dispatcher.get("/technicians").body["items"]}
    assert listed["t-li"]["regions"] == ["CN-BJ", "CN-SH", "CN-CD"]
    restored = dispatcher.request("PUT", "/technicians/t-li", {"regions": ["CN-BJ", "CN-SH"]})
    assert restored.status == 200


def open_for(client: TwinClient, minutes: int) -> None:
    """Move the twin clock (if needed) so the technicians' calendar stays open for ``minutes``."""
    cfg = load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    calendar = BusinessCalendar.from_config(cfg.calendars["default"])
    span = timedelta(minutes=minutes)
    for _ in range(5):
        current = datetime.fromisoformat(client.get("/_local/clock").body["now"])
        if calendar.next_open(current) == current and calendar.next_open(current + span) == current + span:
            return
        target = calendar.next_open(current + span)
        client.post("/_local/clock/advance", {"seconds": (target - current).total_seconds() + 60})
    raise AssertionError("could not find an open stretch of the technicians' calendar")


def test_an_offer_nobody_accepts_expires_and_an_accepted_one_stays(
    agent: TwinClient, dispatcher: TwinClient, anonymous: TwinClient
) -> None:
    open_for(anonymous, 60)
    cancel_open_tickets(anonymous, ["acme-home"])  # the earlier tests' tickets would expire too
    assert set(loads(dispatcher).values()) == {0}

    # Given two install tickets offered to technicians, each with a deadline 30 minutes away
    ids = []
    for _ in range(2):
        created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
        assert created.status == 201, created.body
        ids.append(created.body["id"])
    kept, lapsed = (wait_dispatched(agent, i, attempt=1) for i in ids)
    now = datetime.fromisoformat(anonymous.get("/_local/clock").body["now"])
    for offered in (kept, lapsed):
        deadline = datetime.fromisoformat(offered["dispatch"]["offer_expires_at"])
        assert timedelta(minutes=29) <= deadline - now <= timedelta(minutes=30)

    # When the first one's technician accepts (the built-in action: no form, the ticket stays put)
    first_tech = anonymous.as_user("acme-home", kept["dispatch"]["technician"], ["technician"])
    accepted = first_tech.post(
        f"/tickets/{kept['id']}/actions", {"action": "accept", "version": kept["version"]}
    )
    assert accepted.status == 200, accepted.body
    assert accepted.body["node"] == "on_site" and accepted.body["dispatch"]["accepted_at"]
    again = first_tech.post(
        f"/tickets/{kept['id']}/actions", {"action": "accept", "version": accepted.body["version"]}
    )
    assert again.status == 409 and "already accepted" in again.body["message"]

    # and the clock passes both deadlines
    moved = anonymous.post("/_local/clock/advance", {"seconds": 31 * 60})
    assert moved.status == 200 and moved.body["fired"] >= 1, (
        moved.body
    )  # the accepted offer's timer was deleted

    # Then the unaccepted offer was declined on its technician's behalf and offered to someone else
    nobody = lapsed["dispatch"]["technician"]
    second = wait_dispatched(agent, lapsed["id"], attempt=2)
    assert second["dispatch"]["declined"] == [nobody]
    assert second["dispatch"]["technician"] not in (None, nobody)
    history = agent.get(f"/tickets/{lapsed['id']}/history").body["events"]
    expired = [e for e in history if e.get("action") == "decline"]
    assert expired and expired[-1]["changes"]["reason"] == "the offer expired"
    assert expired[-1]["changes"]["on_behalf_of"] == nobody
    # while the accepted one is untouched: same attempt, same technician, still waiting on on_site
    still = agent.get(f"/tickets/{kept['id']}").body
    assert (still["dispatch"]["attempt"], still["node"], still["version"]) == (
        1,
        "on_site",
        accepted.body["version"],
    )
    # and the loads follow: each ticket holds exactly one technician
    after = loads(dispatcher)
    holders = [kept["dispatch"]["technician"], second["dispatch"]["technician"]]
    for tech, load in after.items():
        assert load == holders.count(tech), (tech, holders, after)
