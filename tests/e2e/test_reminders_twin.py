"""SLA reminders on the local twin: an urgent acme install ticket's on_site node escalates
yellow → orange → red as the manual clock is advanced, over SMS, email and (orange) WeCom
application messages, which the twin's emulated WeCom API records in /_local/messages.

The ticket reaches on_site through the dispatch node; while dispatch cannot place it there
(not built yet, or no technician) the test is skipped. Dispatch *offers* the ticket: unless the
technician acts on on_site within `dispatch.offer_timeout` (30 m), the offer expires and the
ticket is dispatched again. The technician could take it with the built-in `accept`; here they take it
by acting: `need_parts` at once, the dispatcher's `parts_arrived` at once, and the ticket is
back on on_site (a new visit) with its full budget and no offer pending.

Other e2e tests share the session's clock, so nothing here depends on its absolute time: the
expected instants are computed from the instant the ticket entered on_site, and the clock
only moves at the end of each test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.adapters.scheduler import sla_scheduler
from shared.calendar import BusinessCalendar
from shared.ports import NoSla
from shared.settings import settings
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
INSTALL = {
    "customer_name": "周先生",
    "customer_phone": "+8613900000077",
    "address": "北京市朝阳区建国路 1 号",
    "region": "CN-BJ",
    "location": {"lat": 39.91, "lon": 116.41},
    "priority": "urgent",
}
H = timedelta(hours=1)


@pytest.fixture
def sla_wired(twin: LocalTwin) -> Iterator[None]:
    """The ticket functions run in this process: give them `SchedulerSla` if their deps lack one yet."""
    from functions.ticket import wiring

    current = wiring.deps()
    if not isinstance(current.sla, NoSla):
        yield
        return
    settings.cache_clear()  # read the twin's environment (scheduler group, role, reminders ARN)
    wiring._deps = dataclasses.replace(current, sla=sla_scheduler())
    try:
        yield
    finally:
        wiring._deps = current


def clock_now(client: TwinClient) -> datetime:
    return datetime.fromisoformat(client.get("/_local/clock").body["now"])


def advance_to(client: TwinClient, instant: datetime) -> None:
    seconds = (instant - clock_now(client)).total_seconds()
    assert seconds >= 0, f"the clock is already past {instant}"
    answer = client.post("/_local/clock/advance", {"seconds": seconds})
    assert answer.status == 200, answer.body


def messages_of(client: TwinClient, ticket_id: str) -> list[dict[str, Any]]:
    return [m for m in client.get("/_local/messages").body["messages"] if m["ticket_id"] == ticket_id]


def on_site_ticket(agent: TwinClient) -> dict[str, Any]:
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    try:
        ticket = agent.wait_ready(created.body["id"], node="on_site", timeout=30)
    except TimeoutError as exc:
        pytest.skip(f"the install ticket did not reach on_site (dispatch not available yet): {exc}")
    if ticket["status"] != "open" or ticket["node"] != "on_site":
        pytest.skip(
            f"the install ticket stopped at {ticket['node']} ({ticket['status']}): dispatch not available"
        )
    return ticket


ON_SITE_FORM = {"photos": ["p1.jpg", "p2.jpg"], "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}]}


def act(client: TwinClient, ticket: dict[str, Any], action: str, fields: dict[str, Any]) -> None:
    answer = client.post(
        f"/tickets/{ticket['id']}/actions", {"action": action, "fields": fields, "version": ticket["version"]}
    )
    assert answer.status == 200, answer.body


def taken_on_site(agent: TwinClient, anonymous: TwinClient) -> dict[str, Any]:
    """An on_site ticket whose technician has acted on the offer (see the module docstring)."""
    offered = on_site_ticket(agent)
    technician = anonymous.as_user("acme-home", offered["assignee"]["id"], [])
    dispatcher = anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])
    act(technician, offered, "need_parts", ON_SITE_FORM)
    act(dispatcher, agent.wait_ready(offered["id"], node="waiting_parts"), "parts_arrived", {})
    return agent.wait_ready(offered["id"], node="on_site")


def contact(cfg: TenantConfig, person: str, channel: str) -> str | None:
    found: Any = cfg.technician(person) or cfg.user(person)
    return {"sms": found.phone, "email": found.email, "wecom": found.wecom_user}[channel]


@pytest.mark.usefixtures("sla_wired")
def test_on_site_escalates_yellow_orange_red_at_business_instants(
    agent: TwinClient, anonymous: TwinClient
) -> None:
    cfg: TenantConfig = load_tenant_file(str(EXAMPLE))
    calendar = BusinessCalendar.from_config(cfg.calendars["default"])

    # Given two urgent install tickets taken on on_site (budget 4 business hours)
    ticket = taken_on_site(agent, anonymous)
    other = on_site_ticket(agent)
    technician = ticket["assignee"]["id"]
    assert ticket["assignee"]["kind"] == "technician"
    supervisor = cfg.technician(technician).supervisor  # type: ignore[union-attr]
    sla = ticket["sla"]
    assert sla is not None, "the ticket service did not start the SLA clock"
    entered = datetime.fromisoformat(sla["entered_at"])
    expected = {
        "yellow": calendar.add_business_time(entered, 2 * H),  # 50 %
        "orange": calendar.add_business_time(entered, 3 * H + 12 * timedelta(minutes=1)),  # 80 %
        "red": calendar.add_business_time(entered, 4 * H),  # 100 %
    }
    assert sla["node"] == "on_site" and sla["priority"] == "urgent" and sla["budget"] == 4 * 3600
    assert sla["visit"] == 2 and sla["consumed"] == 0  # no clock time passed on the first visit
    assert {lv["name"]: datetime.fromisoformat(lv["at"]) for lv in sla["levels"]} == expected
    assert datetime.fromisoformat(sla["deadline"]) == expected["red"]

    # And the second ticket is cancelled: its reminders must never come
    cancelled = agent.post(f"/tickets/{other['id']}/cancel", {"reason": "客户改期"})
    assert cancelled.status == 200, cancelled.body
    assert messages_of(agent, ticket["id"]) == []

    # When the clock reaches each level, exactly then
    wanted = {
        "yellow": {(technician, "sms")},
        "orange": {(p, c) for p in (technician, supervisor) for c in ("sms", "email", "wecom")},
        "red": {(p, c) for p in (str(supervisor), "u-zhao") for c in ("sms", "email")},
    }
    seen = 0
    for level, instant in expected.items():
        advance_to(agent, instant)
        got = messages_of(agent, ticket["id"])[seen:]
        seen += len(got)
        # Then that level's messages arrive at that instant, to its recipients, on its channels
        addresses = {(c, a) for p, c in wanted[level] if (a := contact(cfg, str(p), c))}
        assert {(m["channel"], m["to"]) for m in got} == addresses, got
        assert all(m["level"] == level and datetime.fromisoformat(m["at"]) == instant for m in got), got
        assert all(ticket["id"] in m["body"] for m in got)

    # And orange reached u-zhao (and t-wang, when dispatched to him) as WeCom members, through
    # acme-home's wecom_app and the twin's emulated WeCom API, in the shape of the SMS entries
    wecom = [m for m in messages_of(agent, ticket["id"]) if m["channel"] == "wecom"]
    assert {m["to"] for m in wecom} == {contact(cfg, str(supervisor), "wecom")} | (
        {contact(cfg, technician, "wecom")} - {None}
    )
    sms = next(
        m for m in messages_of(agent, ticket["id"]) if m["channel"] == "sms" and m["level"] == "orange"
    )
    for m in wecom:
        assert set(m) == set(sms) and m["level"] == "orange" and m["ticket_id"] == ticket["id"]
        assert datetime.fromisoformat(m["at"]) == expected["orange"]
        assert m["subject"] is None and m["body"].endswith(f"[SLA {ticket['id']} orange]")

    # And every reminder came inside working hours (or exactly at a closing time)
    for message in messages_of(agent, ticket["id"]):
        at = datetime.fromisoformat(message["at"])
        assert calendar.is_open(at) or calendar.is_open(at - timedelta(microseconds=1))

    # And the ticket shows the breach; nothing more comes later, and nothing for the cancelled one
    advance_to(agent, expected["red"] + 3 * 24 * H)
    assert len(messages_of(agent, ticket["id"])) == seen
    assert messages_of(agent, other["id"]) == []
    final = agent.get(f"/tickets/{ticket['id']}").body["sla"]
    assert final["breached"] is True and final["level"] == "red"
    assert [lv["fired"] for lv in final["levels"]] == [True, True, True]
    assert (
        agent.post(f"/tickets/{ticket['id']}/cancel", {"reason": "测试结束"}).status == 200
    )  # free the load


@pytest.mark.usefixtures("sla_wired")
def test_waiting_for_parts_moves_the_reminders_by_the_paused_time(
    agent: TwinClient, anonymous: TwinClient
) -> None:
    cfg: TenantConfig = load_tenant_file(str(EXAMPLE))
    calendar = BusinessCalendar.from_config(cfg.calendars["default"])
    ticket = on_site_ticket(agent)
    technician = anonymous.as_user("acme-home", ticket["assignee"]["id"], [])
    dispatcher = anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])
    first = ticket["sla"]
    entered = datetime.fromisoformat(first["entered_at"])

    # Given 20 minutes on site (within the offer's 30), then the technician needs parts: the clock pauses
    advance_to(agent, entered + 20 * timedelta(minutes=1))
    left = clock_now(agent)
    act(technician, technician.get(f"/tickets/{ticket['id']}").body, "need_parts", ON_SITE_FORM)
    waiting = agent.wait_ready(ticket["id"], node="waiting_parts")
    consumed = calendar.business_time_between(entered, left)
    assert waiting["sla"]["paused"] is True and waiting["sla"]["consumed"] == consumed.total_seconds()

    # When the parts arrive two hours later and the ticket is back on site
    advance_to(agent, left + 2 * H)
    resumed_at = clock_now(agent)
    act(dispatcher, waiting, "parts_arrived", {})
    back = agent.wait_ready(ticket["id"], node="on_site")

    # Then the remaining budget resumes: every level moved by the paused business time
    sla = back["sla"]
    paused = calendar.business_time_between(left, resumed_at)
    assert sla["paused"] is False and sla["visit"] == first["visit"] + 1
    assert sla["paused_time"] == paused.total_seconds()
    before = {lv["name"]: datetime.fromisoformat(lv["at"]) for lv in first["levels"]}
    after = {lv["name"]: datetime.fromisoformat(lv["at"]) for lv in sla["levels"]}
    assert after == {name: calendar.add_business_time(at, paused) for name, at in before.items()}

    # And yellow comes once, at the moved instant (the first visit's schedules are gone)
    advance_to(agent, after["yellow"])
    yellow = [m for m in messages_of(agent, ticket["id"]) if m["level"] == "yellow"]
    assert yellow and all(datetime.fromisoformat(m["at"]) == after["yellow"] for m in yellow)
    assert len(yellow) == 1
    assert (
        agent.post(f"/tickets/{ticket['id']}/cancel", {"reason": "测试结束"}).status == 200
    )  # free the load
