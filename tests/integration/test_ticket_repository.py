"""TicketRepository against moto's DynamoDB: conditional writes, history, listing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.errors import Conflict, NotFound
from shared.repositories.tickets import TicketRepository
from tests import factories

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def a_ticket(ticket_id: str = "TK-1", at: datetime = T0, **extra: object) -> Ticket:
    return factories.ticket(ticket_id, at=at, fields={"question": "多少钱?"}, **extra)


created = factories.created_event


@pytest.mark.usefixtures("aws")
def test_create_get_and_refuse_a_duplicate() -> None:
    repo = TicketRepository()
    ticket = a_ticket(assignee=Assignee(kind="role", id="agent"))
    repo.create(ticket, created(ticket))
    assert repo.get("acme-home", "TK-1") == ticket
    with pytest.raises(Conflict):
        repo.create(ticket, created(ticket))
    with pytest.raises(NotFound):
        repo.get("acme-home", "TK-404")
    with pytest.raises(NotFound):
        repo.get("other-tenant", "TK-1")  # keys are fenced by tenant


@pytest.mark.usefixtures("aws")
def test_save_is_conditional_on_the_version_read() -> None:
    repo = TicketRepository()
    ticket = a_ticket()
    repo.create(ticket, created(ticket))

    def bump(n: int) -> bool:
        moved = ticket.model_copy(update={"version": 2, "fields": {"n": n}})
        event = TicketEvent(at=T0, actor=f"u{n}", kind="action", node="answer", version=2)
        try:
            repo.save(moved, expected_version=1, event=event)
            return True
        except Conflict:
            return False

    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(bump, range(20)))
    assert wins.count(True) == 1
    history = repo.history("acme-home", "TK-1")
    assert [e.kind for e in history] == ["created", "action"]  # the losers left nothing behind
    assert repo.get("acme-home", "TK-1").version == 2


@pytest.mark.usefixtures("aws")
def test_list_is_newest_first_and_pages() -> None:
    repo = TicketRepository()
    for n in range(5):
        t = a_ticket(f"TK-{n}", at=T0 + timedelta(minutes=n))
        repo.create(t, created(t))
    page, cursor = repo.page("acme-home", limit=3)
    assert [t.id for t in page] == ["TK-4", "TK-3", "TK-2"]
    assert cursor is not None
    rest, _ = repo.page("acme-home", limit=3, start_key=cursor)
    assert [t.id for t in rest] == ["TK-1", "TK-0"]
