"""The open-tickets index (sparse gsi3) and scrm-ticket-gauges against moto: one Query per tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from functions.ticket import gauges_handler
from shared.domain.ticket import Ticket, TicketEvent
from shared.repositories.tickets import OPEN_INDEX, OPEN_INDEX_SHARDS, TicketRepository, list_shard
from shared.settings import settings
from shared.tenant import load_tenant_file
from tests.tenant_objects import deploy_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def a_ticket(ticket_id: str, ticket_type: str, node: str, tenant: str = "acme-home", n: int = 0) -> Ticket:
    at = T0 + timedelta(minutes=n)
    return Ticket(
        tenant=tenant, id=ticket_id, type=ticket_type, node=node, created_at=at, updated_at=at, created_by="u"
    )


def event(ticket: Ticket, version: int) -> TicketEvent:
    return TicketEvent(at=ticket.updated_at, actor="u", kind="changed", node=ticket.node, version=version)


@pytest.fixture
def tickets(aws: None) -> TicketRepository:
    repo = TicketRepository()
    # Given open tickets of acme-home at three nodes, one of another tenant
    for n, (ticket_id, ticket_type, node) in enumerate(
        [
            ("TK-1", "install", "on_site"),
            ("TK-2", "install", "on_site"),
            ("TK-3", "install", "customer_confirm"),
            ("TK-4", "consult", "answer"),
            ("TK-5", "consult", "answer"),
        ]
    ):
        ticket = a_ticket(ticket_id, ticket_type, node, n=n)
        repo.create(ticket, event(ticket, 1))
    other = a_ticket("TK-9", "install", "on_site", tenant="bright-clean")
    repo.create(other, event(other, 1))
    # When one closes, one is cancelled and one moves on to another node
    for ticket_id, changes in (
        ("TK-4", {"status": "closed", "node": "done"}),
        ("TK-2", {"status": "cancelled"}),
        ("TK-1", {"node": "waiting_parts"}),
    ):
        current = repo.get("acme-home", ticket_id)
        moved = current.model_copy(update={**changes, "version": 2})
        repo.save(moved, expected_version=1, event=event(moved, 2))
    return repo


def test_open_positions_are_the_tenants_open_tickets_only(tickets: TicketRepository) -> None:
    # Then the index holds the open ones only, where they are now
    assert sorted(tickets.open_positions("acme-home")) == [
        ("consult", "answer"),
        ("install", "customer_confirm"),
        ("install", "waiting_parts"),
    ]
    assert list(tickets.open_positions("bright-clean")) == [("install", "on_site")]
    assert list(tickets.open_positions("nobody")) == []


def test_the_index_is_sparse_and_projects_type_and_node_only(tickets: TicketRepository) -> None:
    items = []
    for shard in range(OPEN_INDEX_SHARDS):
        answer = boto3.client("dynamodb", region_name="us-east-1").query(
            TableName=settings().table_name,
            IndexName=OPEN_INDEX,
            KeyConditionExpression="gsi3pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"TENANT#acme-home#OPEN#{shard}"}},
        )
        # each open ticket's entry is in its own shard (the list's: the same for every save)
        assert all(list_shard(i["pk"]["S"].rsplit("#", 1)[-1]) == shard for i in answer["Items"])
        items += answer["Items"]
    # closed and cancelled tickets left the index; what is there is small (no body, no fields)
    assert sorted(i["pk"]["S"].rsplit("#", 1)[-1] for i in items) == ["TK-1", "TK-3", "TK-5"]
    assert all(set(i) == {"pk", "sk", "gsi3pk", "lsk", "type", "node"} for i in items)


class LambdaContext:
    function_name = "scrm-ticket-gauges"
    memory_limit_in_mb = 768
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:scrm-ticket-gauges"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def emf(tickets: TicketRepository, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """acme-home's configuration deployed and metrics on; the lines powertools prints (EMF)."""
    import aws_lambda_powertools.metrics.base as emitting

    deploy_config(load_tenant_file(str(EXAMPLE)))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    lines: list[str] = []
    monkeypatch.setattr(emitting, "print", lambda text: lines.append(text), raising=False)
    gauges_handler._tickets = None  # bind the handler's repository to this moto
    yield lines
    parameters.clear_caches()
    gauges_handler._tickets = None


def test_the_handler_emits_one_gauge_per_waiting_node(emf: list[str]) -> None:
    # When the 5-minute rule invokes the function for acme-home
    answer = gauges_handler.gauges({"tenant": "acme-home"}, LambdaContext())
    # Then every node where a ticket can wait has a value, 0 included (not `done`, an end node)
    assert answer["open"] == 3
    assert answer["by_node"] == {
        "callback/call": 0,
        "callback/review": 0,
        "callback/triage": 0,
        "consult/answer": 1,
        "consult/handoff": 0,
        "install/customer_confirm": 1,
        "install/dispatching": 0,
        "install/manual_dispatch": 0,
        "install/on_site": 0,
        "install/settle": 0,
        "install/waiting_parts": 1,
    }
    # And each is one EMF document of the catalogue's OpenTickets with exactly its dimensions
    docs = [json.loads(line) for line in emf if line.startswith('{"_aws"')]
    assert len(docs) == len(answer["by_node"])
    for doc in docs:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Scrm"
        assert directive["Dimensions"] == [["tenant", "ticket_type", "node"]]
        assert directive["Metrics"] == [{"Name": "OpenTickets", "Unit": "Count"}]
        assert doc["tenant"] == "acme-home"
    values = {f"{d['ticket_type']}/{d['node']}": d["OpenTickets"] for d in docs}
    assert values == {key: [float(count)] for key, count in answer["by_node"].items()}


def test_an_unknown_tenant_fails_the_invocation(emf: list[str]) -> None:
    from shared.errors import NotFound

    with pytest.raises(NotFound):
        gauges_handler.gauges({"tenant": "nobody-co"}, LambdaContext())
    assert not [line for line in emf if line.startswith('{"_aws"')]


def test_the_platform_rule_measures_every_deployed_tenant_and_skips_a_broken_one(emf: list[str]) -> None:
    # Given bright-clean deployed too, and a tenant whose configuration cannot be read
    deploy_config(load_tenant_file(str(EXAMPLE.with_name("bright-clean.yaml"))))
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=settings().config_bucket, Key="tenants/broken-co/config.json.gz", Body=b"not a config"
    )
    # When the platform's 5-minute rule invokes the function with {}
    answer = gauges_handler.gauges({}, LambdaContext())
    # Then each deployed tenant was measured in its own scope, the broken one reported and skipped
    assert answer["tenants"] == 3
    assert answer["open"] == {"acme-home": 3, "bright-clean": 1}
    assert list(answer["failed"]) == ["broken-co"] and answer["unreached"] == []
    docs = [json.loads(line) for line in emf if line.startswith('{"_aws"')]
    assert {d["tenant"] for d in docs} == {"acme-home", "bright-clean"}
    acme = {f"{d['ticket_type']}/{d['node']}": d["OpenTickets"] for d in docs if d["tenant"] == "acme-home"}
    assert acme["install/waiting_parts"] == [1.0] and acme["consult/answer"] == [1.0]


def test_a_sweep_that_starts_with_too_little_time_measures_nothing_and_says_so(emf: list[str]) -> None:
    answer = gauges_handler.gauges({}, LambdaContext(remaining_ms=2_000))
    assert answer["open"] == {} and answer["failed"] == {}
    assert answer["unreached"] == ["acme-home"]
    assert not [line for line in emf if line.startswith('{"_aws"')]
