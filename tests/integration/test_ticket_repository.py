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
def test_a_save_without_an_event_is_conditional_too() -> None:
    # (a conditional put, not a transaction: half the write units, the same optimistic lock)
    repo = TicketRepository()
    ticket = a_ticket()
    repo.create(ticket, created(ticket))
    recorded = ticket.model_copy(update={"execution_arn": "arn:aws:states:us-east-1:1:execution:m:TK-1"})
    repo.save(recorded, expected_version=1)
    with pytest.raises(Conflict):
        repo.save(ticket.model_copy(update={"reason": "late"}), expected_version=0)
    assert repo.get("acme-home", "TK-1") == recorded
    assert [e.kind for e in repo.history("acme-home", "TK-1")] == ["created"]


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


@pytest.mark.usefixtures("aws")
def test_the_tenant_list_is_write_sharded_and_merges_back_into_one_order() -> None:
    """Entries spread over every shard; listing merges them newest first (ties of the instant by id)
    and every page size walks the same list, filters included, with cursors that resume exactly."""
    import random

    from shared.repositories.tickets import TICKET_LIST_SHARDS, TicketItem, list_shard

    repo = TicketRepository()
    rnd = random.Random(16)
    made: list[Ticket] = []
    for n in range(60):
        # some share an instant: the id decides among them, as the sort key says
        t = a_ticket(
            f"TK-{n:03d}",
            at=T0 + timedelta(minutes=rnd.randint(0, 40)),
            status=rnd.choice(["open", "closed"]),
        )
        repo.create(t, created(t))
        made.append(t)
    stored = {item.id: item.gsi5pk for item in TicketItem.scan(TicketItem.sk == "TICKET")}
    assert stored["TK-007"] == f"TENANT#acme-home#TICKETS#{list_shard('TK-007')}"
    assert {pk for pk in stored.values()} == {
        f"TENANT#acme-home#TICKETS#{n}" for n in range(TICKET_LIST_SHARDS)
    }

    newest_first = [t.id for t in sorted(made, key=lambda t: (t.created_at, t.id), reverse=True)]
    everything, end = repo.page("acme-home", limit=100)
    assert [t.id for t in everything] == newest_first and end is None

    for size in (1, 7, 25, 60):
        walked: list[str] = []
        cursor = None
        while True:
            page, cursor = repo.page("acme-home", limit=size, start_key=cursor)
            walked += [t.id for t in page]
            assert len(page) <= size
            if cursor is None:
                break
        assert walked == newest_first, size

    closed = [i for i in newest_first if next(t for t in made if t.id == i).status == "closed"]
    walked, cursor = [], None
    while True:
        page, cursor = repo.page("acme-home", status="closed", limit=4, start_key=cursor)
        assert all(t.status == "closed" for t in page)
        walked += [t.id for t in page]
        if cursor is None:
            break
    assert walked == closed


@pytest.mark.usefixtures("aws")
def test_a_cursor_of_another_listing_is_refused() -> None:
    from shared.errors import ValidationFailed

    repo = TicketRepository()
    for n in range(3):
        t = a_ticket(
            f"TK-{n}", at=T0 + timedelta(minutes=n), assignee=Assignee(kind="technician", id="t-wang")
        )
        repo.create(t, created(t))
    _page, tenant_cursor = repo.page("acme-home", limit=1)
    _page, assignee_cursor = repo.page("acme-home", assignee="t-wang", limit=1)
    assert tenant_cursor is not None and assignee_cursor is not None
    with pytest.raises(ValidationFailed):
        repo.page("acme-home", assignee="t-wang", limit=1, start_key=tenant_cursor)
    with pytest.raises(ValidationFailed):
        repo.page("acme-home", assignee="t-li", limit=1, start_key=assignee_cursor)
    with pytest.raises(ValidationFailed):
        repo.page("acme-home", limit=1, start_key=assignee_cursor)
    with pytest.raises(ValidationFailed):
        repo.page("acme-home", limit=1, start_key={"before": 5})
    rest, _ = repo.page("acme-home", assignee="t-wang", limit=5, start_key=assignee_cursor)
    assert [t.id for t in rest] == ["TK-1", "TK-0"]


@pytest.mark.usefixtures("aws")
def test_the_lists_index_no_body_and_a_page_answers_whole_tickets() -> None:
    import boto3

    from shared.repositories.tickets import ASSIGNEE_INDEX, LIST_INDEX, _pack, _unpack
    from shared.settings import settings

    # Given tickets with bodies (fields, a dispatch explanation), some assigned, one filtered out
    repo = TicketRepository()
    made = []
    for n in range(6):
        t = a_ticket(
            f"TK-{n}",
            at=T0 + timedelta(minutes=n),
            status="closed" if n == 2 else "open",
            assignee=Assignee(kind="technician", id="t-wang") if n % 2 else None,
            dispatch={"explanation": {"considered": n, "top": [{"technician": "t-wang"}]}},
        )
        repo.create(t, created(t))
        made.append(t)
    # Then the two list indexes hold keys and filter columns, never the body
    client = boto3.client("dynamodb", region_name="us-east-1")
    for index, key in ((LIST_INDEX, "gsi5pk"), (ASSIGNEE_INDEX, "gsi6pk")):
        entries = client.scan(TableName=settings().table_name, IndexName=index)["Items"]
        assert entries, index
        assert all(set(e) <= {"pk", "sk", key, "lsk", "type", "status", "node"} for e in entries), entries
    # And a page answers the same whole tickets as a get, in the list's order, filters applied
    page, _ = repo.page("acme-home", limit=10, status="open")
    assert page == [repo.get("acme-home", t.id) for t in reversed(made) if t.status == "open"]
    mine, _ = repo.page("acme-home", assignee="t-wang", limit=10)
    assert [t.id for t in mine] == ["TK-5", "TK-3", "TK-1"]
    assert mine[0].dispatch == made[5].dispatch
    # And a body takes less than half its JSON; bodies stored gzip'd before are still read
    import gzip
    import json

    body = made[5].model_dump(mode="json")
    assert len(_pack(body)) < len(json.dumps(body)) / 2
    assert _unpack(gzip.compress(json.dumps(body).encode())) == _unpack(_pack(body)) == body
