"""Multi-party settlement on moto: a guide's share (``catalog.shares``) is written with the
installer's line in the settlement's one transaction, once, and a rework reverses both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest

from functions.settlement import reports, service
from shared.errors import Forbidden, NotFound
from shared.identity import Caller
from shared.repositories.ledger import LedgerRepository
from shared.rules.conditions import Condition
from shared.tenant.models import TenantConfig
from shared.tenant.models.settlement import PartyShare
from tests.integration.test_ledger import FINANCE, T0, TENANT, act, deps, settled_ticket

D = Decimal
GUIDE = Caller(sub="u-lin", tenant="acme-home", roles=frozenset({"agent"}))


def with_shares(*shares: PartyShare) -> TenantConfig:
    """The example tenant with ``catalog.shares`` (the example file itself pays the installer alone)."""
    return TENANT.model_copy(update={"catalog": TENANT.catalog.model_copy(update={"shares": list(shares)})})


CREATOR_ON_API = PartyShare(
    party="creator", when=Condition.model_validate({"path": "ticket.channel", "equals": "api"}), percent=D(5)
)


@pytest.mark.usefixtures("aws")
def test_a_guide_share_is_written_with_the_installers_line_once() -> None:
    # Given a ticket created by u-lin through the API, and a 5 % creator share on that channel
    cfg = with_shares(CREATOR_ON_API)
    settled_ticket("TK-1")
    d = deps()
    # When it is settled by 6 concurrent (and retried) settles
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: service.settle(d, cfg, "TK-1", "settle"), range(6)))
    # Then one record, one installer line, one guide line
    assert sum(r.created for r in results) == 1
    ledger = LedgerRepository()
    installer = ledger.earnings("acme-home", "t-wang", "2026-11")
    assert [(e.ticket_id, e.amount, e.party) for e in installer] == [("TK-1", D("225.00"), "installer")]
    guide = ledger.staff_earnings("acme-home", "u-lin", "2026-11")
    assert [(e.ticket_id, e.amount, e.party, e.ticket_total) for e in guide] == [
        ("TK-1", D("18.75"), "creator", D("375.00"))
    ]
    # And the statement route's logic shows it to the guide, to finance, not to another user
    statement = reports.staff_statement(d, cfg, GUIDE, "u-lin", "2026-11")
    assert statement.total == D("18.75")
    assert reports.staff_statement(d, cfg, FINANCE, "u-lin", "2026-11").total == D("18.75")
    with pytest.raises(Forbidden):
        reports.staff_statement(
            d,
            cfg,
            Caller(sub="u-zhao", tenant="acme-home", roles=frozenset({"supervisor"})),
            "u-lin",
            "2026-11",
        )
    with pytest.raises(NotFound):
        reports.staff_statement(d, cfg, FINANCE, "u-nobody", "2026-11")
    # the ticket shows who is paid what
    ticket = d.tickets.get("acme-home", "TK-1")
    assert ticket.settlement is not None
    assert [(p["party"], p["amount"]) for p in ticket.settlement["parties"]] == [
        ("installer", "225.00"),
        ("creator", "18.75"),
    ]


@pytest.mark.usefixtures("aws")
def test_a_rework_reverses_the_installer_and_the_guide() -> None:
    # Given a settled ticket with a guide share, out of the installer's earnings this time
    cfg = with_shares(CREATOR_ON_API.model_copy(update={"out_of": "installer"}))
    settled_ticket("TK-1")
    d = deps()
    service.settle(d, cfg, "TK-1", "settle")
    # When it is reworked by another technician with a different channel (the rule no longer holds)
    ticket = d.tickets.get("acme-home", "TK-1")
    d.tickets.save(
        ticket.model_copy(
            update={"channel": "webform", "dispatch": {"technician": "t-li"}, "version": ticket.version + 1}
        ),
        expected_version=ticket.version,
    )
    act("TK-1", "confirm", T0 + timedelta(days=1))
    latest = service.settle(d, cfg, "TK-1", "settle")
    assert latest.created and latest.record.sequence == 2
    # Then both first parties are given back exactly, and the new installer is credited
    ledger = LedgerRepository()
    assert sum(e.amount for e in ledger.earnings("acme-home", "t-wang", "2026-11")) == 0
    assert [e.amount for e in ledger.earnings("acme-home", "t-wang", "2026-11")] == [
        D("206.25"),
        D("-206.25"),
    ]
    guide = ledger.staff_earnings("acme-home", "u-lin", "2026-11")
    assert [(e.kind, e.amount) for e in guide] == [("settlement", D("18.75")), ("adjustment", D("-18.75"))]
    assert sum(e.amount for e in ledger.earnings("acme-home", "t-li", "2026-11")) == latest.record.earnings
    # And a retried settle of the rework writes nothing twice
    again = service.settle(d, cfg, "TK-1", "settle")
    assert not again.created
    assert len(ledger.staff_earnings("acme-home", "u-lin", "2026-11")) == 2
