"""Fault injectors for the local twin, and a census of what the twin's table holds.

Each injector is a context manager that puts everything back when it exits:

- `dynamodb_throttled`: the embedded DynamoDB (moto) answers the next N requests with a
  throttling error, for every client (boto3's, pynamodb's own botocore session), before the
  request is applied. The SDKs' retries with backoff are what is under test.
- `send_task_success_fails`: the ticket service's Step Functions client gets ``TaskTimedOut``
  (or another error code) from ``SendTaskSuccess``, as when the task's timeout passed.
- `crash_after`: wraps a module function so that it runs, then raises, the first N times its
  arguments match: a function crashing between two writes.
- `short_visibility`: an SQS queue redelivers unacknowledged messages after a second instead
  of the function timeout × 6, so a crashed batch is retried within the test.

`census` counts deliveries, tickets, settlements and ledger lines of a tenant straight from the
table, and lists what breaks exactly-once.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.twin.deploy import REGION
from shared.repositories.tickets import TicketRepository
from shared.tenant_scope import tenant_scope


@dataclass
class Injected:
    """What an injector did: how many faults it raised, per operation.

    It raises on one matching call in every ``every`` (1: each one) until ``remaining`` is spent.
    """

    remaining: int
    every: int = 1
    seen: int = 0
    raised: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        return sum(self.raised.values())

    def take(self, operation: str) -> bool:
        with self.lock:
            self.seen += 1
            if self.remaining <= 0 or (self.seen - 1) % self.every:
                return False
            self.remaining -= 1
            self.raised[operation] += 1
            return True


@contextlib.contextmanager
def dynamodb_throttled(
    calls: int,
    *,
    every: int = 1,
    operations: set[str] | None = None,
    code: str = "ProvisionedThroughputExceededException",
) -> Iterator[Injected]:
    """``calls`` of the next DynamoDB requests (of ``operations``, default all) are throttled:
    one in every ``every`` (1: consecutive ones, more than the SDK retries absorb).

    moto is patched at the HTTP layer, so this sits at moto's request handler: every client in
    the process sees the error as DynamoDB would send it (HTTP 400, ``__type`` = the code).
    """
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    injected = Injected(calls, every)
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
        if (operations is None or operation in operations) and injected.take(operation):
            raise DynamodbException(
                ERROR_TYPE_PREFIX + code, f"{operation} throttled by the fault injector (try again)"
            )
        return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield injected
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextlib.contextmanager
def send_task_success_fails(client: Any, calls: int = 1, *, code: str = "TaskTimedOut") -> Iterator[Injected]:
    """``SendTaskSuccess`` on this botocore client fails ``calls`` times with ``code``."""
    injected = Injected(calls)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if injected.take("SendTaskSuccess"):
            raise ClientError(
                {"Error": {"Code": code, "Message": "Task Timed Out (injected)"}}, "SendTaskSuccess"
            )

    event = "before-call.sfn.SendTaskSuccess"
    client.meta.events.register(event, refuse, unique_id="fault-send-task-success")
    try:
        yield injected
    finally:
        client.meta.events.unregister(event, unique_id="fault-send-task-success")


class InjectedCrash(RuntimeError):
    """The fault: a function dying half-way (a timeout, an out-of-memory, a lost container)."""


@contextlib.contextmanager
def crash_after(
    module: Any, name: str, calls: int, *, when: Callable[..., bool] = lambda *a, **k: True
) -> Iterator[Injected]:
    """``module.name`` runs, then raises ``InjectedCrash``, the first ``calls`` times ``when`` holds."""
    injected = Injected(calls)
    original = getattr(module, name)

    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs) and injected.take(name):
            raise InjectedCrash(f"crashed right after {name} (injected)")
        return result

    setattr(module, name, crashing)
    try:
        yield injected
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def short_visibility(queue_url: str, seconds: int = 1) -> Iterator[None]:
    sqs: Any = boto3.client("sqs", region_name=REGION)
    before = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(seconds)})
    try:
        yield
    finally:
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"VisibilityTimeout": before["Attributes"]["VisibilityTimeout"]}
        )


# --------------------------------------------------------------------------- the census


@dataclass
class Census:
    deliveries: dict[str, dict[str, Any]]
    """Delivery key (``channel/id``) -> its item."""
    tickets: dict[str, dict[str, Any]]
    """Ticket id -> its item."""
    settlements: Counter[str]
    """Ticket id -> settlement records (a rework adds one; a replay must not)."""
    ledger: Counter[str]
    """Ticket id -> ledger lines of kind ``settlement`` (rework adjustments are lines of their own)."""

    def summary(self) -> str:
        created = sum(1 for d in self.deliveries.values() if d.get("status") == "ticket_created")
        from_channels = sum(
            1 for t in self.tickets.values() if str(t.get("created_by", "")).startswith("channel:")
        )
        return (
            f"deliveries={len(self.deliveries)} (ticket_created={created}) tickets={len(self.tickets)} "
            f"(from deliveries={from_channels}) "
            f"settled tickets={len(self.settlements)} settlement records={sum(self.settlements.values())} "
            f"ledger entries={sum(self.ledger.values())}"
        )

    def delivery_problems(self) -> list[str]:
        """Every delivery turned into exactly one ticket (and no ticket from nowhere)."""
        problems = []
        from_deliveries = Counter(
            d.get("ticket_id") for d in self.deliveries.values() if d.get("status") == "ticket_created"
        )
        for key, item in self.deliveries.items():
            status, ticket_id = item.get("status"), item.get("ticket_id")
            if status == "queued":
                problems.append(f"delivery {key} is still queued")
            if status == "ticket_created" and ticket_id not in self.tickets:
                problems.append(f"delivery {key} says ticket {ticket_id}, which does not exist")
        problems += [f"ticket {t} claimed by {n} deliveries" for t, n in from_deliveries.items() if n > 1]
        channel_tickets = [
            t for t, item in self.tickets.items() if str(item.get("created_by", "")).startswith("channel:")
        ]
        problems += [f"ticket {t} has no delivery" for t in channel_tickets if t not in from_deliveries]
        return problems

    def ledger_problems(self) -> list[str]:
        """Every settled ticket has exactly one ledger entry (and no ledger line without one)."""
        settled = {t for t, item in self.tickets.items() if item.get("settlement")}
        problems = [
            f"settled ticket {t} has {self.ledger[t]} ledger entries" for t in settled if self.ledger[t] != 1
        ]
        problems += [
            f"ticket {t} has ledger lines but no settlement" for t in self.ledger if t not in settled
        ]
        return problems


def census(table_name: str, tenant: str) -> Census:
    """Read the whole table (a test-only Scan) and sort the tenant's items by kind."""
    client: Any = boto3.client("dynamodb", region_name=REGION)
    deliveries: dict[str, dict[str, Any]] = {}
    tickets: dict[str, dict[str, Any]] = {}
    settlements: Counter[str] = Counter()
    ledger: Counter[str] = Counter()
    prefix = f"TENANT#{tenant}#"
    for page in client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for raw in page["Items"]:
            item = {k: _plain(v) for k, v in raw.items()}
            pk, sk = str(item["pk"]), str(item["sk"])
            if not pk.startswith(prefix):
                continue
            parts = pk[len(prefix) :].split("#")
            if parts[0] == "DELIVERY" and sk == "DELIVERY":
                deliveries["/".join(parts[1:])] = item
            elif parts[0] == "TICKET" and sk == "TICKET":
                tickets[parts[1]] = {}
            elif parts[0] == "TICKET" and sk.startswith("SETTLEMENT#"):
                settlements[parts[1]] += 1
            elif parts[0] == "LEDGER" and item.get("kind") == "settlement":
                ledger[str(item["ticket_id"])] += 1
    # The ticket item's layout (a packed body) belongs to the repository: read tickets through it.
    repository = TicketRepository()
    with tenant_scope(tenant):  # as the functions do: signed with the tenant's data-access role
        for ticket_id in tickets:
            tickets[ticket_id] = repository.get(tenant, ticket_id).model_dump(mode="json")
    return Census(deliveries, tickets, settlements, ledger)


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "NULL":
        return None
    return inner
