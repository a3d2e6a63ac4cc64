"""SLA reminders against moto: schedules from the ticket service's park/act, the reminders function,
SMS through SNS and email through SES v2, WeCom application messages through the WeCom adapter (its
secret from moto's SSM) to the twin's WeCom emulation on a local port, sent-markers in the table.

The ticket service runs for real (`functions.ticket.service` with the DynamoDB repository and
`SchedulerSla` on moto's EventBridge Scheduler); only the workflow engine is a fake. A schedule
"fires" by calling the `fire` handler with the schedule's own input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

import functions.reminders.handler as reminders_handler
from functions.ticket import service
from infra.twin.wecom import EmulatedApp
from shared import clock
from shared.adapters.scheduler import OneTimeScheduler
from shared.domain.ticket import Ticket, TicketEvent
from shared.identity import Caller
from shared.repositories.tickets import TicketRepository
from shared.settings import settings
from shared.sla_clock import SchedulerSla
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from tests import factories
from tests.fakes import FakeEngine
from tests.tenant_objects import deploy_config
from tests.wecom_server import WeComServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "scrm-reminders"
TARGET = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:scrm-reminders-fire"
SENDER = "no-reply@scrm.example"
ON_SITE_FORM = {"photos": ["a.jpg", "b.jpg"], "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}]}


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self.at = start.astimezone(UTC)

    def now(self) -> datetime:
        return self.at

    def set(self, instant: datetime) -> None:
        self.at = instant.astimezone(UTC)


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    config: TenantConfig = load_tenant_file(str(EXAMPLE))
    return config


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch, acme: TenantConfig) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("SCHEDULER_GROUP", GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/scheduler")
    monkeypatch.setenv("REMINDER_FUNCTION_ARN", TARGET)
    monkeypatch.setenv("SENDER_EMAIL", SENDER)
    app = acme.wecom_app
    assert app is not None
    members = frozenset(p.wecom_user for p in [*acme.users, *acme.technicians] if p.wecom_user)
    wecom = WeComServer(EmulatedApp("acme-home", app.corp_id, app.agent_id, "app-secret", members))
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=app.secret.ssm, Value="app-secret", Type="SecureString", Overwrite=True
    )
    monkeypatch.setenv("WECOM_API_URL", wecom.base)
    dlq_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="reminders-dlq")["QueueUrl"]
    dlq_arn = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    monkeypatch.setenv("SCHEDULER_DLQ_ARN", dlq_arn)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    settings.cache_clear()
    boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=GROUP)
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="scrm.example")
    deploy_config(acme)
    manual = ManualClock(sh(23, 9))
    clock.install(manual.now)
    reminders_handler._deps = None  # bind the handler's clients to this moto
    sla = SchedulerSla(OneTimeScheduler(), TARGET)
    deps = service.Deps(tickets=TicketRepository(), engine=FakeEngine(), sla=sla)
    yield {"deps": deps, "clock": manual, "cfg": acme, "dlq_arn": dlq_arn, "wecom": wecom}
    wecom.stop()
    parameters.clear_caches()
    clock.reset()
    reminders_handler._deps = None
    settings.cache_clear()


class LambdaContext:
    function_name = "scrm-reminders-fire"
    memory_limit_in_mb = 768
    invoked_function_arn = TARGET
    aws_request_id = "req-1"


def schedules() -> dict[str, dict[str, Any]]:
    client: Any = boto3.client("scheduler", region_name=REGION)
    found: dict[str, dict[str, Any]] = {}
    for page in client.get_paginator("list_schedules").paginate(GroupName=GROUP):
        for summary in page["Schedules"]:
            found[summary["Name"]] = client.get_schedule(Name=summary["Name"], GroupName=GROUP)
    return found


def delete_schedule(schedule: dict[str, Any]) -> None:
    client: Any = boto3.client("scheduler", region_name=REGION)
    client.delete_schedule(Name=schedule["Name"], GroupName=GROUP)


def at_of(schedule: dict[str, Any]) -> datetime:
    expression = schedule["ScheduleExpression"]
    return datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)


def fire(schedule: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = reminders_handler.fire(json.loads(schedule["Target"]["Input"]), LambdaContext())
    return result


def sms() -> list[tuple[str, str]]:
    return list(sns_backends[ACCOUNT][REGION].sms_messages.values())


def emails() -> list[Any]:
    return list(ses_backends[ACCOUNT][REGION].sent_messages)


def install_ticket(world: dict[str, Any], priority: str = "urgent") -> Ticket:
    """An install ticket dispatched to t-wang, parked at on_site (the dispatch step is not needed)."""
    deps: service.Deps = world["deps"]
    now = clock.now()
    ticket = Ticket(
        tenant="acme-home",
        id="TK-261123-0001",
        type="install",
        node="dispatching",
        fields={
            "customer_name": "陈女士",
            "customer_phone": "+8613900000000",
            "address": "朝阳区",
            "region": "CN-BJ",
            "priority": priority,
        },
        created_at=now,
        updated_at=now,
        created_by="u-lin",
        dispatch={"technician": "t-wang"},
        execution_arn="arn:aws:states:us-east-1:1:execution:scrm-acme-home-install:TK",
    )
    deps.tickets.create(ticket, TicketEvent(at=now, actor="u-lin", kind="created", version=1))
    service.park(deps, world["cfg"], ticket.id, "on_site", "token-1")
    parked: Ticket = deps.tickets.get("acme-home", ticket.id)
    return parked


def act(world: dict[str, Any], ticket_id: str, who: str, action: str, fields: dict[str, Any]) -> Ticket:
    deps: service.Deps = world["deps"]
    current = deps.tickets.get("acme-home", ticket_id)
    caller = Caller(tenant="acme-home", sub=who, roles=("dispatcher",) if who.startswith("u-") else ())
    return service.act(deps, world["cfg"], caller, ticket_id, action, fields, current.version)


# --------------------------------------------------------------------------- tests


def test_parking_on_a_timed_node_schedules_its_levels_one_after_another(world: dict[str, Any]) -> None:
    # Given an urgent install ticket entering on_site Monday 09:00 (budget 4 h)
    ticket = install_ticket(world)
    # Then its levels come at 50 %, 80 % and 100 % of 4 business hours, each from an at() schedule
    # that the previous level's fire creates (one schedule per clock at a time)
    expected = {"yellow": sh(23, 11), "orange": sh(23, 13, 12), "red": sh(23, 14)}
    for level, when in expected.items():
        found = schedules()
        assert sorted(found) == [f"acme-home-TK-261123-0001-on_site-1-{level}"]
        schedule = found[f"acme-home-TK-261123-0001-on_site-1-{level}"]
        assert at_of(schedule) == when
        assert schedule["ActionAfterCompletion"] == "DELETE"
        assert schedule["Target"]["Arn"] == TARGET
        assert json.loads(schedule["Target"]["Input"]) == {
            "tenant": "acme-home",
            "ticket_id": ticket.id,
            "node": "on_site",
            "visit": 1,
            "level": level,
        }
        world["clock"].set(when)
        assert fire(schedule)["outcome"] == "sent"
        delete_schedule(schedule)  # ActionAfterCompletion DELETE, as Scheduler does
    assert schedules() == {}
    # And the SLA state on the ticket says the same
    assert ticket.sla is not None
    assert ticket.sla["deadline"] == sh(23, 14).isoformat()
    assert ticket.sla["budget"] == 4 * 3600 and ticket.sla["visit"] == 1 and ticket.sla["breached"] is False
    assert [(lv["name"], lv["at"], lv["fired"]) for lv in ticket.sla["levels"]] == [
        (name, when.isoformat(), False) for name, when in expected.items()
    ]
    fired = world["deps"].tickets.get("acme-home", ticket.id).sla
    assert [lv["fired"] for lv in fired["levels"]] == [True, True, True]


def test_leaving_the_node_deletes_its_schedules_and_a_late_fire_sends_nothing(world: dict[str, Any]) -> None:
    ticket = install_ticket(world)
    pending = schedules()
    # When the technician completes on_site
    act(world, ticket.id, "t-wang", "complete", ON_SITE_FORM)
    # Then on_site's schedules are gone
    assert not [name for name in schedules() if "on_site" in name]
    # And a schedule that fires anyway (late, already in flight) sends nothing
    result = fire(pending["acme-home-TK-261123-0001-on_site-1-yellow"])
    assert result["outcome"] == "stale" and "left node" in result["reason"]
    assert sms() == [] and emails() == []


def test_each_level_notifies_its_recipients_once_even_when_fired_twice(
    world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ticket = install_ticket(world)
    found = schedules()
    world["clock"].set(sh(23, 11))
    yellow = found[f"acme-home-{ticket.id}-on_site-1-yellow"]
    first = fire(yellow)
    again = fire(yellow)  # Scheduler retried the same schedule
    # yellow: the assignee (t-wang) by SMS, once
    assert first["outcome"] == "sent" and len(first["sent"]) == 1
    assert again["outcome"] == "sent" and again["sent"] == [] and again["skipped"][0]["why"] == "already sent"
    assert [phone for phone, _text in sms()] == ["+8613800000001"]
    text = sms()[0][1]
    assert ticket.id in text and "on_site" in text and "2026-11-23 14:00 (Asia/Shanghai)" in text
    assert text.endswith(f"[SLA {ticket.id} yellow]")
    # orange: t-wang and his supervisor u-zhao, SMS, email and WeCom (acme-home's wecom_app)
    world["clock"].set(sh(23, 13, 12))
    found = schedules()  # orange's schedule was created by yellow's fire (chained levels)
    orange = fire(found[f"acme-home-{ticket.id}-on_site-1-orange"])
    assert [phone for phone, _ in sms()[1:]] == ["+8613800000001", "+8613800000012"]
    assert sorted(m.destinations["ToAddresses"][0] for m in emails()) == [
        "wang@acme.example",
        "zhao@acme.example",
    ]
    wecom: WeComServer = world["wecom"]
    assert [to for to, _ in wecom.messages] == ["WangShifu", "ZhaoGang"]
    assert all(text.endswith(f"[SLA {ticket.id} orange]") for _, text in wecom.messages)
    assert wecom.token_requests == 1  # one token for both messages
    assert fire(found[f"acme-home-{ticket.id}-on_site-1-orange"])["sent"] == []  # retried: nothing again
    assert len(wecom.messages) == 2 and len(orange["sent"]) == 6
    assert all(m.source == SENDER and "橙色" in m.subject and ticket.id in m.subject for m in emails())
    # red: the supervisor and role:dispatcher are the same person (u-zhao): one SMS, one email
    world["clock"].set(sh(23, 14))
    capsys.readouterr()
    found = schedules()
    red = fire(found[f"acme-home-{ticket.id}-on_site-1-red"])
    assert red["breached"] is True
    breach_metrics = [line for line in capsys.readouterr().out.splitlines() if '"SlaBreaches"' in line]
    assert len(breach_metrics) == 1 and json.loads(breach_metrics[0])["SlaBreaches"] == [1.0]
    assert [phone for phone, _ in sms()[3:]] == ["+8613800000012"]
    assert len(emails()) == 3
    state = world["deps"].tickets.get("acme-home", ticket.id).sla
    assert [lv["fired"] for lv in state["levels"]] == [True, True, True]
    assert state["breached"] is True and state["level"] == "red"
    # the SLA bookkeeping did not make the technician's pending action stale
    assert world["deps"].tickets.get("acme-home", ticket.id).version == ticket.version
    # firing red again neither sends nor counts another breach
    assert fire(found[f"acme-home-{ticket.id}-on_site-1-red"])["breached"] is False
    assert len(sms()) == 4 and len(emails()) == 3


def test_cancelling_deletes_the_schedules(world: dict[str, Any]) -> None:
    ticket = install_ticket(world)
    pending = schedules()
    service.cancel(
        world["deps"],
        world["cfg"],
        Caller(tenant="acme-home", sub="u-lin", roles=("agent",)),
        ticket.id,
        "客户取消",
    )
    assert schedules() == {}
    assert fire(pending[f"acme-home-{ticket.id}-on_site-1-yellow"])["reason"] == "the ticket is cancelled"
    assert sms() == []


def test_waiting_for_parts_pauses_the_clock_and_resuming_moves_the_reminders(world: dict[str, Any]) -> None:
    # Given on_site (urgent, 4 h) entered Monday 09:00; at 10:00 the technician needs parts (1 h used)
    ticket = install_ticket(world)
    world["clock"].set(sh(23, 10))
    act(world, ticket.id, "t-wang", "need_parts", ON_SITE_FORM)
    service.park(world["deps"], world["cfg"], ticket.id, "waiting_parts", "token-2")
    paused = world["deps"].tickets.get("acme-home", ticket.id)
    assert paused.sla["paused"] is True and paused.sla["consumed"] == 3600
    assert paused.sla["paused_on"] == "waiting_parts"
    assert schedules() == {}  # nothing fires while paused
    # When the parts arrive Tuesday 09:00 and the ticket is back on on_site (visit 2)
    world["clock"].set(sh(24, 9))
    act(world, ticket.id, "u-zhao", "parts_arrived", {})
    service.park(world["deps"], world["cfg"], ticket.id, "on_site", "token-3")
    back = world["deps"].tickets.get("acme-home", ticket.id)
    # Then 3 h remain: yellow (2 h) after 1 h more = 10:00, orange (3 h 12 m) = 11:12, red = 12:00
    found = schedules()
    expected = {"yellow": sh(24, 10), "orange": sh(24, 11, 12), "red": sh(24, 12)}
    assert {lv["name"]: datetime.fromisoformat(lv["at"]) for lv in back.sla["levels"]} == expected
    # the next level's schedule only (the others are chained from it)
    assert {name: at_of(s) for name, s in found.items()} == {
        f"acme-home-{ticket.id}-on_site-2-yellow": sh(24, 10)
    }
    assert back.sla["paused"] is False and back.sla["visit"] == 2 and back.sla["consumed"] == 3600
    # Monday 10:00-18:00 (8 h, less the lunch hour: 7 h) and Tuesday before 09:00 (none) were paused
    assert back.sla["paused_time"] == 7 * 3600
    assert back.sla["deadline"] == sh(24, 12).isoformat()
    # And unpaused the deadline would have been Monday 14:00: it moved by the paused business time
    assert sh(23, 14) + timedelta(hours=22) == sh(24, 12)


def test_a_retried_park_keeps_the_same_schedules(world: dict[str, Any]) -> None:
    ticket = install_ticket(world)
    sla: SchedulerSla = world["deps"].sla
    again = sla.start(world["cfg"], ticket, "on_site")
    assert again == ticket.sla
    assert list(schedules()) == [f"acme-home-{ticket.id}-on_site-1-yellow"]


def test_ticket_types_without_a_policy_have_no_clock(world: dict[str, Any]) -> None:
    consult = factories.ticket("TK-C", at=clock.now(), visits={"answer": 1})
    sla: SchedulerSla = world["deps"].sla
    assert sla.start(world["cfg"], consult, "answer") is None
    sla.stop(world["cfg"], consult, "answer")
    assert schedules() == {}


# --------------------------------------------------------------------------- retries, DLQ, calendar change


def test_every_schedule_retries_and_ends_in_the_dead_letter_queue(world: dict[str, Any]) -> None:
    install_ticket(world)
    found = schedules()
    assert len(found) == 1  # the clock's next level; each later one is created the same way
    for name, schedule in found.items():
        target = schedule["Target"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}, name
        assert target["DeadLetterConfig"] == {"Arn": world["dlq_arn"]}, name
        assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/scheduler"


def deploy(cfg: TenantConfig) -> None:
    """Write a changed tenant configuration as the tenant stack would, and drop the functions' cache."""
    deploy_config(cfg)


def test_a_calendar_change_moves_the_open_reminders(world: dict[str, Any]) -> None:
    # Given an urgent install ticket on on_site from Monday 09:00 (yellow 11:00, orange 13:12, red 14:00)
    ticket = install_ticket(world)
    before = schedules()
    # When Monday is made a day off, and the yellow schedule fires at 11:00
    acme: TenantConfig = world["cfg"]
    default = acme.calendars["default"]
    closed_monday = default.model_copy(update={"days_off": [*default.days_off, date(2026, 11, 23)]})
    deploy(acme.model_copy(update={"calendars": {**acme.calendars, "default": closed_monday}}))
    world["clock"].set(sh(23, 11))
    result = fire(before[f"acme-home-{ticket.id}-on_site-1-yellow"])
    # Then nothing is sent: no business time was used on Monday, the clock starts on Tuesday 09:00
    assert result["outcome"] == "rescheduled" and "yellow" in result["reason"]
    assert sms() == [] and emails() == []
    found = schedules()
    expected = {"yellow": sh(24, 11), "orange": sh(24, 13, 12), "red": sh(24, 14)}
    state = world["deps"].tickets.get("acme-home", ticket.id).sla
    assert {lv["name"]: datetime.fromisoformat(lv["at"]) for lv in state["levels"]} == expected
    moved = {f"acme-home-{ticket.id}-on_site-1-yellow-g1": expected["yellow"]}  # orange, red: chained
    # the old yellow is the one firing (it deletes itself)
    assert {name: at_of(s) for name, s in found.items() if name.endswith("-g1")} == moved
    assert set(found) - set(moved) == {f"acme-home-{ticket.id}-on_site-1-yellow"}
    for name in moved:
        assert json.loads(found[name]["Target"]["Input"])["generation"] == 1
        assert found[name]["Target"]["DeadLetterConfig"] == {"Arn": world["dlq_arn"]}
    state = world["deps"].tickets.get("acme-home", ticket.id).sla
    assert state["deadline"] == sh(24, 14).isoformat() and state["generation"] == 1
    assert state["digest"] != ticket.sla["digest"]
    # And the old yellow, retried, is stale; the moved one sends on Tuesday 11:00, once
    assert fire(before[f"acme-home-{ticket.id}-on_site-1-yellow"])["outcome"] == "stale"
    world["clock"].set(sh(24, 11))
    sent = fire(found[f"acme-home-{ticket.id}-on_site-1-yellow-g1"])
    assert sent["outcome"] == "sent" and [phone for phone, _ in sms()] == ["+8613800000001"]
    assert "2026-11-24 14:00 (Asia/Shanghai)" in sms()[0][1]
    assert fire(found[f"acme-home-{ticket.id}-on_site-1-yellow-g1"])["sent"] == []
    # The fired yellow deletes itself after completion (ActionAfterCompletion DELETE, which moto
    # does not fire); leaving the node deletes the moved schedules still pending
    boto3.client("scheduler", region_name=REGION).delete_schedule(
        Name=f"acme-home-{ticket.id}-on_site-1-yellow-g1", GroupName=GROUP
    )
    act(world, ticket.id, "t-wang", "complete", ON_SITE_FORM)
    assert not [name for name in schedules() if "-g1" in name]
