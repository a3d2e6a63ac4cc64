"""Domain events: history lines and settlement records to events, stable ids, the stream images
read back, publishing in chunks of 10 with refusals named, and docs/events.md kept generated."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ticket import publish, publish_handler
from infra.events_doc import DOC, render
from shared.domain.events import (
    EVENT_NAMES,
    EVENT_TYPES,
    DomainEvent,
    StoredTicketEvent,
    TicketCreated,
    event_schema,
    make_event,
    settlement_event,
    ticket_event,
)
from shared.domain.ledger import SettlementRecord
from shared.domain.ticket import TicketEvent
from shared.repositories.ledger import _record_item
from shared.repositories.stream_images import StreamImageReader
from shared.repositories.tickets import _event_item

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PK = "TENANT#acme-home#TICKET#TK-1"


def stored(kind: str, *, sk: str = "EVT#1", **line: Any) -> StoredTicketEvent:
    event = TicketEvent(
        at=AT, actor=line.pop("actor", "u-lin"), kind=kind, version=line.pop("version", 2), **line
    )
    return StoredTicketEvent(tenant="acme-home", ticket_id="TK-1", key=(PK, sk), event=event)


def record(sequence: int = 1) -> SettlementRecord:
    return SettlementRecord(
        tenant="acme-home",
        ticket_id="TK-1",
        sequence=sequence,
        visit="complete",
        technician="t-wang",
        period="2026-11",
        completed_at=AT,
        settled_at=AT,
        settlement={"total": "312.50", "installer_earnings": "187.50", "currency": "CNY"},
        groups={},
    )


# ---------------------------------------------------------------- mapping
def test_history_lines_that_are_events_map_to_their_types() -> None:
    # Given the history lines a ticket run writes, when each is mapped
    created = ticket_event(stored("created", node="answer", changes={"fields": {"q": "x"}}, version=1))
    moved = ticket_event(
        stored("action", node="answer", action="answered", changes={"fields": {"a": "y"}, "to": "done"})
    )
    closed = ticket_event(stored("closed", node="done", actor="system"))
    failed = ticket_event(stored("failed", node="visit", changes={"reason": "the workflow failed"}))
    # Then each is its event, with what a CRM needs of it
    assert created is not None and created.type == "ticket.created"
    assert created.data == {
        "ticket_id": "TK-1",
        "node": "answer",
        "actor": "u-lin",
        "fields": {"q": "x"},
        "ticket_version": 1,
    }
    assert moved is not None and moved.type == "ticket.moved"
    assert (moved.data["from_node"], moved.data["to_node"], moved.data["action"]) == (
        "answer",
        "done",
        "answered",
    )
    assert moved.data["fields"] == {"a": "y"}
    assert closed is not None and closed.type == "ticket.closed" and closed.data["node"] == "done"
    assert failed is not None and failed.data["reason"] == "the workflow failed"
    assert {e.tenant for e in (created, moved, closed, failed)} == {"acme-home"}
    assert all(e.occurred_at == AT and e.version == 1 for e in (created, moved, closed, failed))


@pytest.mark.parametrize(
    "line",
    [
        stored("entered", node="answer"),
        stored("dispatched", node="dispatch"),
        stored("sla_level", node="visit"),
        stored("action", node="visit", action="accept", changes={"accepted": True}),  # moves nothing
    ],
)
def test_internal_history_lines_are_no_events(line: StoredTicketEvent) -> None:
    assert ticket_event(line) is None


def test_event_ids_are_stable_per_item_and_differ_between_items() -> None:
    once = ticket_event(stored("closed", node="done"))
    again = ticket_event(stored("closed", node="done"))
    other = ticket_event(stored("closed", node="done", sk="EVT#2"))
    assert once is not None and again is not None and other is not None
    assert once.id == again.id  # a record delivered twice republishes the same id
    assert once.id != other.id
    assert once.id.startswith("evt_") and len(once.id) == 36


def test_a_settlement_record_is_settlement_posted_and_a_rework_an_adjustment() -> None:
    first = settlement_event((PK, "SETTLEMENT#000001"), record(1))
    rework = settlement_event((PK, "SETTLEMENT#000002"), record(2))
    assert first.type == "settlement.posted" and first.data["kind"] == "settlement"
    assert rework.data["kind"] == "adjustment" and rework.id != first.id
    assert first.data["total"] == "312.50"  # money is a decimal string on the wire, never a float
    assert first.data["installer_earnings"] == "187.50" and first.data["currency"] == "CNY"


def test_an_event_carries_only_its_own_types_data() -> None:
    data = TicketCreated(ticket_id="T", node="n", actor="a", fields={}, ticket_version=1)
    with pytest.raises(TypeError, match=r"ticket\.closed carries TicketClosed"):
        make_event("ticket.closed", "t", ("k",), AT, data)


def test_every_event_type_has_a_schema_naming_it() -> None:
    assert set(EVENT_NAMES) >= {
        "ticket.created",
        "ticket.moved",
        "ticket.closed",
        "ticket.failed",
        "settlement.posted",
        "opportunity.created",
        "opportunity.won",
        "opportunity.lost",
        "customer.merged",
    }
    for name, kind in EVENT_TYPES.items():
        schema = event_schema(name)
        assert schema["properties"]["type"]["const"] == name
        assert schema["properties"]["version"]["const"] == kind.version
        assert set(schema["required"]) >= {"id", "type", "version", "tenant", "occurred_at", "data"}


def test_docs_events_md_is_generated_from_the_models() -> None:
    # When this fails: run `scrm events-doc` and review the schema change it shows
    assert DOC.read_text(encoding="utf-8") == render()


# ---------------------------------------------------------------- stream images
def test_stream_images_read_back_history_lines_and_settlement_records() -> None:
    # Given the items as the repositories write them, in the stream's attribute-value JSON
    line = TicketEvent(
        at=AT,
        actor="u-lin",
        kind="action",
        node="answer",
        action="answered",
        changes={"to": "done"},
        version=3,
    )
    history_image = _event_item("acme-home", "TK-1", line).serialize()
    settlement_image = _record_item(record(), []).serialize()
    reader = StreamImageReader()
    # Then each reads back as what it is, and nothing else
    found = reader.ticket_event(history_image)
    assert found is not None and found.tenant == "acme-home" and found.ticket_id == "TK-1"
    assert found.event == line and found.key[0] == PK and found.key[1].startswith("EVT#")
    assert reader.settlement(history_image) is None
    settled = reader.settlement(settlement_image)
    assert settled is not None and settled[1].total == Decimal("312.50")
    assert reader.ticket_event(settlement_image) is None
    event = publish.event_of(reader, history_image)
    assert event is not None and event.type == "ticket.moved"


def test_another_services_event_leaves_through_the_outbox_once() -> None:
    # Given an opportunity won, written to the events outbox (as its service would, in its transaction)
    from shared.domain.events import OpportunityWon
    from shared.repositories.outbox import outbox_item

    won = make_event(
        "opportunity.won",
        "acme-home",
        ("OPP#1", "won"),
        AT,
        OpportunityWon(opportunity_id="OPP-1", actor="u-lin"),
    )
    item = outbox_item(won)
    # Then its stream image is that event, with its id (and an item keyed by the id: writing it
    # again is a MODIFY, which the publisher's INSERT filter passes over)
    assert publish.event_of(StreamImageReader(), item.serialize()) == won
    assert item.pk == f"TENANT#acme-home#OUTBOX#{won.id}" and item.expires_at is not None
    assert (
        StreamImageReader().outbox_event(_event_item("acme-home", "TK-1", stored("closed").event).serialize())
        is None
    )


# ---------------------------------------------------------------- publishing
def lambda_context(name: str) -> LambdaContext:
    context = LambdaContext()
    context._function_name = name
    context._function_version = "$LATEST"
    context._invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    context._memory_limit_in_mb = 768
    context._aws_request_id = "req-1"
    return context


class FakeBus:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.calls: list[list[DomainEvent]] = []
        self.refuse = refuse or set()

    def put(self, events: Any) -> list[str | None]:
        self.calls.append(list(events))
        return ["ThrottlingException: slow down" if e.id in self.refuse else None for e in events]


def many(n: int) -> list[DomainEvent]:
    out = [ticket_event(stored("closed", node="done", sk=f"EVT#{i}")) for i in range(n)]
    return [e for e in out if e is not None]


def test_publish_sends_ten_a_request_in_order_and_names_the_refused() -> None:
    events = many(23)
    bus = FakeBus(refuse={events[12].id})
    refused = publish.publish(bus, events)
    assert [len(c) for c in bus.calls] == [10, 10, 3]
    assert [e for c in bus.calls for e in c] == events
    assert [(r.event.id, r.reason) for r in refused] == [(events[12].id, "ThrottlingException: slow down")]


def test_the_handler_reports_only_the_records_whose_event_was_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a stream batch of three history lines, and a bus that refuses the second's event
    lines = [TicketEvent(at=AT, actor="system", kind="closed", node="done", version=v) for v in (3, 4, 5)]
    images = [_event_item("acme-home", f"TK-{n}", line).serialize() for n, line in enumerate(lines)]
    reader = StreamImageReader()
    second = publish.event_of(reader, images[1])
    assert second is not None
    bus = FakeBus(refuse={second.id})
    monkeypatch.setattr(publish_handler, "_deps", lambda: (reader, bus))
    records = [
        {
            "eventID": str(n),
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "dynamodb": {"SequenceNumber": str(100 + n), "NewImage": image},
        }
        for n, image in enumerate(images)
    ]
    # When the handler takes the batch
    answer = publish_handler.handle({"Records": records}, lambda_context("scrm-ticket-publish"))
    # Then all three were put once, and only the refused one's record comes again
    assert len([e for c in bus.calls for e in c]) == 3
    assert answer == {"batchItemFailures": [{"itemIdentifier": "101"}]}
    json.dumps(answer)
