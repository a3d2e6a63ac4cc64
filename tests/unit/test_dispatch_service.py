"""Dispatch service rules that need no storage: duty by calendar, the ticket's needs, registry checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.dispatch import registry, service
from shared.domain.ticket import Ticket
from shared.errors import ValidationFailed
from shared.repositories.technicians import TechnicianRecord
from shared.tenant.loader import load_tenant_file
from shared.tenant.models import TenantConfig
from tests.factories import EXAMPLES


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant_file(str(EXAMPLES / "acme-home.yaml"))


def record(calendar: str | None) -> TechnicianRecord:
    return TechnicianRecord(tenant="acme-home", id="t-x", name="x", capacity=1, calendar=calendar)


@pytest.mark.parametrize(
    ("instant", "on_duty"),
    [
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), True),  # Monday 09:00 Beijing: opening
        (datetime(2026, 11, 23, 4, 30, tzinfo=UTC), False),  # 12:30: lunch
        (datetime(2026, 11, 28, 3, 59, tzinfo=UTC), True),  # Saturday 11:59
        (datetime(2026, 11, 29, 2, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 12, 31, 2, 0, tzinfo=UTC), False),  # a day off of the calendar
    ],
)
def test_on_duty_follows_the_technicians_calendar(
    acme: TenantConfig, instant: datetime, on_duty: bool
) -> None:
    assert service.duty_check(acme, instant)(record("default")) is on_duty
    assert service.duty_check(acme, instant)(record(None)) is True  # no calendar: always


def test_the_job_reads_region_location_and_node_skills(acme: TenantConfig) -> None:
    at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    ticket = Ticket(
        tenant="acme-home",
        id="TK-1",
        type="install",
        node="dispatching",
        created_at=at,
        updated_at=at,
        created_by="u-lin",
        fields={"region": "CN-BJ", "location": {"lat": 39.9, "lon": 116.4}},
    )
    node = acme.ticket_types["install"].nodes["dispatching"]
    job = service.job_for(acme, ticket, node, frozenset({"t-li"}))
    assert job.region == "CN-BJ"
    assert job.location == (39.9, 116.4)
    assert dict(job.skills) == {"ac-install": 2}
    assert job.declined == frozenset({"t-li"})


def test_registry_changes_name_each_unknown_region_and_skill(acme: TenantConfig) -> None:
    registry.check_changes(acme, {"regions": ["CN-BJ", "CN-SH"], "skills": {"ac-repair": 1}})
    with pytest.raises(ValidationFailed) as raised:
        registry.check_changes(
            acme, {"regions": ["CN-BJ", "XX-01"], "skills": {"ac-install": 2, "plumbing": 1}}
        )
    assert [d["field"] for d in raised.value.details] == ["regions.1", "skills.plumbing"]
