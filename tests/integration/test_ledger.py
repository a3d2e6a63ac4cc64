"""Settlement against moto's DynamoDB: one transaction per settlement (the ticket's own items), revenue
aggregates folded from the table's stream exactly once into shards, exact Decimals, Query-only reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from functions.settlement import aggregates_handler, reports, service, wiring
from functions.settlement.deps import Deps
from infra.constructs.aggregates import SETTLEMENT_INSERTS
from infra.twin.lambdas import FunctionFailed
from infra.twin.streams import StreamMapping, StreamSource
from shared.domain.ledger import REVENUE_SHARDS, ledger_entries, revenue_changes
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict, Unavailable
from shared.identity import Caller
from shared.repositories.base import TenantConnection
from shared.repositories.catalogs import CatalogRepository
from shared.repositories.ledger import CONTENDED_ATTEMPTS, LedgerRepository
from shared.repositories.tickets import TicketRepository
from shared.settings import settings
from shared.tenant.models import TenantConfig
from tests.factories import load_example

D = Decimal
TENANT = TenantConfig.model_validate(load_example("acme-home"))
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FINANCE = Caller(sub="u-qian", tenant="acme-home", roles=frozenset({"finance"}))


def deps() -> Deps:
    return Deps(tickets=TicketRepository(), ledger=LedgerRepository(), catalogs=CatalogRepository())


class LambdaContext:
    function_name = "scrm-settlement-aggregates"
    memory_limit_in_mb = 768
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:scrm-settlement-aggregates"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture(autouse=True)
def aggregates_function(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``scrm-settlement-aggregates`` as deployed, but for the tenant's configuration (the example's)
    and its dependencies built afresh on this test's moto."""
    monkeypatch.setattr(aggregates_handler, "tenant_config", lambda _tenant: TENANT)
    wiring._deps = None
    yield
    wiring._deps = None


def stream_source(invoke: Any = None) -> StreamSource:
    """The aggregates' event source mapping on this moto table's stream (its filter, batch, partial
    failures), delivering to the handler in-process (or to ``invoke``), from the stream's start."""
    table = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=settings().table_name)
    mapping = StreamMapping(
        stream_arn=table["Table"]["LatestStreamArn"],
        function="scrm-settlement-aggregates",
        filters=[json.dumps(SETTLEMENT_INSERTS)],
        report_failures=True,
        retries=3,
    )

    def handler(_name: str, event: Any) -> Any:
        try:
            return aggregates_handler.fold(event, LambdaContext())
        except Exception as exc:  # as Lambda reports it to the event source mapping
            raise FunctionFailed(type(exc).__name__, str(exc)) from exc

    return StreamSource(mapping, invoke or handler, log=lambda _line: None)


def fold_stream() -> int:
    """Deliver what the stream holds to the aggregates (what Lambda does within a second on AWS)."""
    return stream_source().poll()


def settled_ticket(
    ticket_id: str,
    *,
    technician: str = "t-wang",
    region: str = "CN-BJ",
    parts: list[dict[str, Any]] | None = None,
    at: datetime = T0,
) -> None:
    """An install ticket that reached the settlement node after the customer confirmed."""
    repo = TicketRepository()
    ticket = Ticket(
        tenant="acme-home",
        id=ticket_id,
        type="install",
        node="on_site",
        fields={
            "customer_name": "陈",
            "region": region,
            "priority": "normal",
            "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
            "parts": parts if parts is not None else [{"sku": "PRT-COPPER-PIPE", "quantity": "2.5"}],
        },
        created_at=at - timedelta(hours=3),
        updated_at=at - timedelta(hours=3),
        created_by="u-lin",
        channel="api",
        dispatch={"technician": technician},
        catalog_version=TENANT.catalog.version,
    )
    repo.create(ticket, TicketEvent(at=ticket.created_at, actor="u-lin", kind="created", version=1))
    act(ticket_id, "confirm", at)


def act(ticket_id: str, action: str, at: datetime, **fields: Any) -> None:
    repo = TicketRepository()
    ticket = repo.get("acme-home", ticket_id)
    moved = ticket.model_copy(
        update={"node": "settle", "version": ticket.version + 1, "fields": {**ticket.fields, **fields}}
    )
    event = TicketEvent(
        at=at, actor="u-lin", kind="action", node="customer_confirm", action=action, version=moved.version
    )
    repo.save(moved, expected_version=ticket.version, event=event)


@pytest.mark.usefixtures("aws")
def test_concurrent_settles_of_one_ticket_write_one_record_and_one_ledger_line() -> None:
    settled_ticket("TK-1")
    d = deps()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: service.settle(d, TENANT, "TK-1", "settle"), range(8)))
    assert sum(r.created for r in results) == 1
    assert len(LedgerRepository().settlements("acme-home", "TK-1")) == 1
    lines = LedgerRepository().earnings("acme-home", "t-wang", "2026-11")
    assert [(line.ticket_id, line.amount) for line in lines] == [("TK-1", D("225.00"))]
    assert fold_stream() == 1  # one record: the concurrent settles wrote one
    (tier,) = LedgerRepository().revenue("acme-home", "2026-11", "tier")
    assert (tier.key, tier.total, tier.earnings, tier.count) == ("T1", D("375.00"), D("225.00"), 1)
    ticket = TicketRepository().get("acme-home", "TK-1")
    assert ticket.settlement is not None and ticket.settlement["total"] == "375.00"


@pytest.mark.usefixtures("aws")
def test_reports_sum_settlements_and_rework_adjustments_exactly() -> None:
    # Given three tickets (one reworked) settled in November
    settled_ticket("TK-1")
    settled_ticket("TK-2", technician="t-li", region="CN-SH")
    settled_ticket("TK-3", parts=[{"sku": "PRT-BRACKET", "quantity": 1}])
    d = deps()
    for ticket_id in ("TK-1", "TK-2", "TK-3"):
        service.settle(d, TENANT, ticket_id, "settle")
    act("TK-1", "confirm", T0 + timedelta(days=1), parts=[{"sku": "PRT-COPPER-PIPE", "quantity": "3.33"}])
    latest = service.settle(d, TENANT, "TK-1", "settle").record
    assert latest.sequence == 2

    # Then the ledger of t-wang adds up to the latest earnings of each ticket
    wang = reports.earnings_statement(d, TENANT, FINANCE, "t-wang", "2026-11")
    tk3 = d.ledger.settlements("acme-home", "TK-3")[-1]
    assert wang.total == latest.earnings + tk3.earnings
    assert [line.kind for line in wang.lines] == ["settlement", "settlement", "adjustment"]

    # And, once the stream is folded, every grouping sums to the same revenue, one count per ticket
    assert fold_stream() == 4  # three settlements and one rework
    totals = {}
    for group_by in ("tier", "region", "item", "ticket_type", "channel"):
        report = reports.revenue_report(d, TENANT, FINANCE, "2026-11", group_by)
        totals[group_by] = report.total
        if group_by != "item":
            assert sum(g.count for g in report.groups) == 3
    expected = sum(
        (r[-1].total for r in (d.ledger.settlements("acme-home", t) for t in ("TK-1", "TK-2", "TK-3"))), D(0)
    )
    assert set(totals.values()) == {expected}
    by_region = {
        g.key: g.total for g in reports.revenue_report(d, TENANT, FINANCE, "2026-11", "region").groups
    }
    assert by_region == {"CN-BJ": latest.total + tk3.total, "CN-SH": D("299.00")}
    # Money came back as Decimal, to the cent
    assert all(isinstance(g, Decimal) for g in by_region.values())
    assert reports.revenue_report(d, TENANT, FINANCE, "2026-10", "tier").groups == []


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The ledger store's pauses between sends, taken without waiting."""
    taken: list[float] = []
    monkeypatch.setattr("shared.repositories.ledger.time.sleep", taken.append)
    return taken


def busy_aggregates(monkeypatch: pytest.MonkeyPatch, times: int, prefix: str = "SETTLEMENT#") -> list[int]:
    """DynamoDB cancels the next ``times`` transactions putting an item whose sort key starts with
    ``prefix`` (settlement records; ``FOLDED#``: the aggregates' folds) for TransactionConflict
    or throttling, then writes as usual. Answers the sends, counted."""
    sends: list[int] = []
    send = TenantConnection.transact_write_items

    def transact_write_items(self: TenantConnection, *args: Any, **kwargs: Any) -> Any:
        keys = [put["Item"]["sk"]["S"] for put in kwargs.get("put_items") or []]
        if any(key.startswith(prefix) for key in keys):  # the ledger's, not the ticket's save
            sends.append(1)
            if len(sends) <= times:
                cause = VerboseClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "[TransactionConflict]"}},
                    "TransactWriteItems",
                    cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
                )
                raise TransactWriteError("Failed to write transaction items", cause)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(TenantConnection, "transact_write_items", transact_write_items)
    return sends


@pytest.mark.usefixtures("aws")
def test_a_settlement_cancelled_by_other_writers_of_its_aggregates_is_sent_again(
    monkeypatch: pytest.MonkeyPatch, pauses: list[float]
) -> None:
    # Given the revenue aggregates are busy: DynamoDB cancels the first two sends of the transaction
    settled_ticket("TK-1")
    sends = busy_aggregates(monkeypatch, times=2)
    # When the ticket is settled
    settled = service.settle(deps(), TENANT, "TK-1", "settle")
    # Then the store sent the same transaction again after a pause each time; one record, one line
    assert settled.created and len(sends) == 3 and len(pauses) == 2
    assert len(LedgerRepository().settlements("acme-home", "TK-1")) == 1
    lines = LedgerRepository().earnings("acme-home", "t-wang", "2026-11")
    assert [line.amount for line in lines] == [D("225.00")]


@pytest.mark.usefixtures("aws", "pauses")
def test_aggregates_that_stay_busy_leave_the_ticket_unsettled_and_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settled_ticket("TK-1")
    sends = busy_aggregates(monkeypatch, times=100)
    with pytest.raises(Unavailable, match="busy"):
        service.settle(deps(), TENANT, "TK-1", "settle")
    assert len(sends) == CONTENDED_ATTEMPTS  # the store's attempts, not multiplied by the logic's
    assert LedgerRepository().settlements("acme-home", "TK-1") == []
    assert TicketRepository().get("acme-home", "TK-1").settlement is None


@pytest.mark.usefixtures("aws")
def test_a_record_written_by_another_settle_is_a_conflict_without_a_pause(pauses: list[float]) -> None:
    # Given a settled ticket
    settled_ticket("TK-1")
    d = deps()
    first = service.settle(d, TENANT, "TK-1", "settle").record
    # When the same record is written again (another settle of the ticket was first)
    with pytest.raises(Conflict):
        d.ledger.record(first, ledger_entries(first, None), revenue_changes(first, None))
    # Then it is the caller's conflict at once: reading again finds the record, no pause helps
    assert pauses == []


def _items(prefix: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    items = client.scan(TableName=settings().table_name)["Items"]
    return [i for i in items if i["pk"]["S"].startswith(prefix)]


@pytest.mark.usefixtures("aws")
def test_a_settlement_transaction_writes_only_the_tickets_own_items(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a ticket at the settlement node, and every transaction the store sends, recorded
    settled_ticket("TK-1")
    sent: list[list[str]] = []
    send = TenantConnection.transact_write_items

    def transact_write_items(self: TenantConnection, *args: Any, **kwargs: Any) -> Any:
        puts = [p["Item"]["pk"]["S"] for p in kwargs.get("put_items") or []]
        updates = [u["Key"]["pk"]["S"] for u in kwargs.get("update_items") or []]
        sent.append(puts + updates)
        return send(self, *args, **kwargs)

    monkeypatch.setattr(TenantConnection, "transact_write_items", transact_write_items)
    # When it is settled
    service.settle(deps(), TENANT, "TK-1", "settle")
    # Then the settlement's transaction held the record and the ledger line, no revenue aggregate
    ledger = [keys for keys in sent if any("#LEDGER#" in k for k in keys)]
    assert ledger == [["TENANT#acme-home#TICKET#TK-1", "TENANT#acme-home#LEDGER#t-wang#2026-11"]]
    assert not any("#REVENUE#" in k for keys in sent for k in keys)
    # And the report shows nothing until the stream is folded (eventually consistent), then the ticket
    assert LedgerRepository().revenue("acme-home", "2026-11", "tier") == []
    assert fold_stream() == 1
    (tier,) = LedgerRepository().revenue("acme-home", "2026-11", "tier")
    assert (tier.total, tier.earnings, tier.count) == (D("375.00"), D("225.00"), 1)


@pytest.mark.usefixtures("aws")
def test_a_stream_delivered_again_is_not_counted_twice() -> None:
    # Given three settled tickets, their records folded once
    d = deps()
    for n in (1, 2, 3):
        settled_ticket(f"TK-{n}")
        service.settle(d, TENANT, f"TK-{n}", "settle")
    assert fold_stream() == 3
    once = LedgerRepository().revenue("acme-home", "2026-11", "item")
    # When Lambda delivers the whole stream again (a retried batch, a redrive from the start)
    again = fold_stream()
    # Then every record reached the function again and changed nothing: each one's marker was there
    assert again == 3
    assert LedgerRepository().revenue("acme-home", "2026-11", "item") == once
    # When two more are settled and the stream comes again from its start, old and new in one batch
    for n in (4, 5):
        settled_ticket(f"TK-{n}")
        service.settle(d, TENANT, f"TK-{n}", "settle")
    assert fold_stream() == 5
    # Then only the two new records were added (the batch's transaction dropped those folded before)
    (tier,) = LedgerRepository().revenue("acme-home", "2026-11", "tier")
    assert (tier.total, tier.count) == (5 * D("375.00"), 5)
    markers = [i["sk"]["S"] for i in _items("TENANT#acme-home#TICKET#") if i["sk"]["S"].startswith("FOLDED#")]
    assert markers == ["FOLDED#SETTLEMENT#001"] * 5  # one per record, whatever the deliveries


@pytest.mark.usefixtures("aws")
def test_aggregates_spread_over_shards_and_a_report_sums_them() -> None:
    # Given 24 tickets settled in one tier and region, folded in four batches of six
    d = deps()
    source = stream_source()
    for n in range(24):
        settled_ticket(f"TK-{n:02d}")
        service.settle(d, TENANT, f"TK-{n:02d}", "settle")
        if n % 6 == 5:
            assert source.poll() == 6
    # Then each batch wrote the tier's aggregate once, on its shard: several shards, none with all
    shards = [i for i in _items("TENANT#acme-home#REVENUE#2026-11#") if i["sk"]["S"] == "tier#T1"]
    assert 2 <= len(shards) <= REVENUE_SHARDS
    assert max(int(i["tickets"]["N"]) for i in shards) < 24
    # And the report sums them exactly
    (tier,) = LedgerRepository().revenue("acme-home", "2026-11", "tier")
    assert (tier.total, tier.earnings, tier.count) == (24 * D("375.00"), 24 * D("225.00"), 24)


@pytest.mark.usefixtures("aws")
def test_a_fold_that_stays_busy_is_reported_and_delivered_again_until_it_is_taken(
    monkeypatch: pytest.MonkeyPatch, pauses: list[float]
) -> None:
    # Given two settled tickets, and the aggregates busy for the next 8 fold transactions
    d = deps()
    for n in (1, 2):
        settled_ticket(f"TK-{n}")
        service.settle(d, TENANT, f"TK-{n}", "settle")
    sends = busy_aggregates(monkeypatch, times=CONTENDED_ATTEMPTS + 2, prefix="FOLDED#")
    source = stream_source()
    # When the event source delivers the stream: the batch's fold fails after the store's attempts
    # (the invocation fails: nothing was written)
    assert source.poll() == 0
    assert len(sends) == CONTENDED_ATTEMPTS and source.failures
    assert LedgerRepository().revenue("acme-home", "2026-11", "tier") == []
    # Then the batch is delivered again and taken (its transaction gets through on the 3rd send), once
    assert source.poll() == 2 and len(sends) == CONTENDED_ATTEMPTS + 3
    (tier,) = LedgerRepository().revenue("acme-home", "2026-11", "tier")
    assert (tier.total, tier.count) == (2 * D("375.00"), 2)
