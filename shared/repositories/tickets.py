"""Tickets and their history in the single table.

Access patterns (all Query/GetItem, never Scan):

| pattern | key |
|---|---|
| get a ticket | pk=``TENANT#t#TICKET#id``, sk=``TICKET`` |
| history of a ticket, oldest first | pk=``TENANT#t#TICKET#id``, sk begins_with ``EVT#`` |
| a tenant's tickets, newest first | gsi1: gsi1pk=``TENANT#t#TICKETS#<shard>``, gsi1sk=``<created_at>#<id>`` |
| an assignee's tickets, newest first | gsi2: ``TENANT#t#ASSIGNEE#<ref>``, ``<created_at>#<id>`` |
| open tickets (type, node) | gsi3: gsi3pk=``TENANT#t#OPEN#<shard>``, gsi3sk=``<created_at>#<id>`` |

``gsi3`` is sparse: only open tickets carry its keys (a ticket leaves it when it closes, fails or
is cancelled), and it projects only ``type`` and ``node``, so counting a tenant's open tickets per
node (the ``OpenTickets`` gauge) is one Query per shard that reads about 150 bytes per open ticket.
It is write-sharded like the list (every open ticket's save rewrites its entry), in
``OPEN_INDEX_SHARDS`` shards by the same ``list_shard`` of the ticket id.

The tenant's ticket list is write-sharded: every save of a ticket rewrites its ``gsi1`` entry, so
one partition key per tenant would take all of a big tenant's ticket writes (an index partition
absorbs about 1,000 WCU/s). A ticket's entry lives in shard ``crc32(id) mod TICKET_LIST_SHARDS``
(stable across processes and releases, unlike ``hash()``); listing queries every shard newest
first (their first pages side by side, so a page costs one round trip of latency) and merges them
by the sort key. Sort keys are unique (``<created_at>#<id>``), so the merged
order is the unsharded one, and a page ends at one sort key: the next page is every shard's entries
strictly below it (the cursor holds just that key). There is no deployed data written under the
unsharded key ``TENANT#t#TICKETS`` (the product is not live), so nothing is migrated.

Filters on type, status and node are applied to the chosen index's pages (pynamodb keeps
reading until the page is full), so a filtered page costs reads in proportion to what it skips.

A ticket item and the event that explains its change are written in one transaction,
conditioned on the version the caller read (optimistic locking).
"""

from __future__ import annotations

import contextvars
import functools
import gzip
import json
import secrets
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any, cast

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.cursors import invalid_cursor
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.errors import Conflict, NotFound
from shared.repositories.base import (
    Gsi1,
    Gsi2,
    TableItem,
    bind,
    list_position,
    merged_page,
    refused,
    shard_page_size,
    tenant_key,
    transaction_connection,
)

TICKET_SK = "TICKET"
EVENT_PREFIX = "EVT#"
OPEN_INDEX = "gsi3"
OPEN_INDEX_ATTRIBUTES = ("type", "node")
"""Non-key attributes the open-tickets index projects (``infra/constructs/table.py`` builds it)."""
TICKET_LIST_SHARDS = 8
OPEN_INDEX_SHARDS = TICKET_LIST_SHARDS
"""Shards of the open-tickets index: a ticket's entry is in ``list_shard(id)``, as in the list."""
"""Partitions of a tenant's ticket list (``gsi1``). Every ticket save writes its list entry; 8 shards
lift one tenant's ceiling from ~1,000 to ~8,000 entry writes/s (ample for 100 new tickets/s and their
~10 saves each), while a page costs 8 small Queries. Changing it re-keys every ticket: a migration."""


class OpenTicketsIndex(GlobalSecondaryIndex["TicketItem"]):
    """Sparse: only open tickets have ``gsi3pk``."""

    class Meta:
        index_name = OPEN_INDEX
        projection = IncludeProjection(list(OPEN_INDEX_ATTRIBUTES))

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class TicketItem(TableItem):
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    by_tenant = Gsi1()
    by_assignee = Gsi2()
    open_by_tenant = OpenTicketsIndex()

    tenant = UnicodeAttribute()
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    node = UnicodeAttribute()
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # Everything else of the ticket (fields, dispatch explanation, SLA, settlement): JSON, gzip.
    # Every save rewrites the item, in a transaction (2 WRU per KB) and in both GSIs, so its size
    # is the ticket's main running cost; compressed it is about a third.
    body = BinaryAttribute(legacy_encoding=False)


class TicketEventItem(TableItem):
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()
    kind = UnicodeAttribute()
    node = UnicodeAttribute(null=True)
    action = UnicodeAttribute(null=True)
    version = NumberAttribute()
    changes = JSONAttribute()


_COLUMNS = {"tenant", "id", "type", "status", "node", "version", "created_at", "updated_at"}


def _pack(data: dict[str, Any]) -> bytes:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0)


def _unpack(blob: bytes | None) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress(blob))) if blob else {}


def _ticket_pk(tenant: str, ticket_id: str) -> str:
    return tenant_key(tenant, "TICKET", ticket_id)


@functools.cache
def _shard_readers() -> ThreadPoolExecutor:
    """Threads that read the list's shards' first pages side by side (one pool per process)."""
    return ThreadPoolExecutor(max_workers=TICKET_LIST_SHARDS, thread_name_prefix="ticket-list")


def _started(query: Iterator[Any]) -> Iterator[Any]:
    """``query`` with its first page read: its first item, then the rest as it is iterated."""
    first = next(query, None)
    return iter(()) if first is None else chain([first], query)


def list_shard(ticket_id: str) -> int:
    """The shard of the tenant's ticket list a ticket's entry lives in: the same for every save."""
    return zlib.crc32(ticket_id.encode()) % TICKET_LIST_SHARDS


def _list_key(tenant: str, shard: int) -> str:
    return tenant_key(tenant, "TICKETS", str(shard))


def assignee_ref(assignee: Assignee) -> str:
    """How an assignee is named in queries: a person by id, a role or department as ``role:<id>``."""
    return assignee.id if assignee.kind in ("user", "technician") else f"{assignee.kind}:{assignee.id}"


def _assignee_key(tenant: str, assignee: Assignee | None) -> str | None:
    return tenant_key(tenant, "ASSIGNEE", assignee_ref(assignee)) if assignee else None


def _to_item(ticket: Ticket) -> TicketItem:
    sort = f"{iso(ticket.created_at)}#{ticket.id}"
    assignee_pk = _assignee_key(ticket.tenant, ticket.assignee)
    is_open = ticket.status == "open"
    body = _pack(ticket.model_dump(mode="json", exclude=_COLUMNS))
    return TicketItem(
        _ticket_pk(ticket.tenant, ticket.id),
        TICKET_SK,
        gsi1pk=_list_key(ticket.tenant, list_shard(ticket.id)),
        gsi1sk=sort,
        gsi2pk=assignee_pk,
        gsi2sk=sort if assignee_pk else None,
        gsi3pk=tenant_key(ticket.tenant, "OPEN", str(list_shard(ticket.id))) if is_open else None,
        gsi3sk=sort if is_open else None,
        tenant=ticket.tenant,
        id=ticket.id,
        type=ticket.type,
        status=ticket.status,
        node=ticket.node,
        version=ticket.version,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        body=body,
    )


def _from_item(item: TicketItem) -> Ticket:
    data: dict[str, Any] = _unpack(item.body)
    data.update(
        tenant=item.tenant,
        id=item.id,
        type=item.type,
        status=item.status,
        node=item.node,
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
    return Ticket.model_validate(data)


def _event_item(tenant: str, ticket_id: str, event: TicketEvent) -> TicketEventItem:
    # The random suffix keeps two events of the same millisecond apart and in a stable order.
    sk = f"{EVENT_PREFIX}{iso(event.at)}#{event.version:06d}#{secrets.token_hex(3)}"
    return TicketEventItem(
        _ticket_pk(tenant, ticket_id),
        sk,
        at=event.at,
        actor=event.actor,
        kind=event.kind,
        node=event.node,
        action=event.action,
        version=event.version,
        changes=json.loads(json.dumps(event.changes, default=str)),
    )


class TicketRepository:
    """The only place that knows how tickets are keyed and stored."""

    def __init__(self) -> None:
        bind(TicketItem, TicketEventItem)
        self._connection = transaction_connection()

    def create(self, ticket: Ticket, event: TicketEvent) -> None:
        """Store a new ticket; ``Conflict`` if a ticket with that id exists (idempotent intake)."""
        item = _to_item(ticket)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(item, condition=TicketItem.pk.does_not_exist())
                tx.save(_event_item(ticket.tenant, ticket.id, event))
        except TransactWriteError as exc:
            refused(exc)
            raise Conflict(f"ticket {ticket.id} already exists") from exc

    def discard(self, ticket: Ticket) -> None:
        """Undo a creation whose workflow could not start: the ticket (still at version 1) and its
        history go, in one transaction. A ticket that moved on meanwhile is kept (``Conflict``)."""
        events = list(
            TicketEventItem.query(
                _ticket_pk(ticket.tenant, ticket.id),
                TicketEventItem.sk.startswith(EVENT_PREFIX),
                consistent_read=True,
            )
        )
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(_to_item(ticket), condition=TicketItem.version == 1)
                for event in events[:99]:
                    tx.delete(event)
        except TransactWriteError as exc:
            refused(exc)
            raise Conflict(f"ticket {ticket.id} changed meanwhile; it was kept") from exc

    def get(self, tenant: str, ticket_id: str) -> Ticket:
        try:
            return _from_item(TicketItem.get(_ticket_pk(tenant, ticket_id), TICKET_SK, consistent_read=True))
        except DoesNotExist:
            raise NotFound(f"ticket '{ticket_id}' does not exist") from None

    def find(self, tenant: str, ticket_id: str) -> Ticket | None:
        try:
            return self.get(tenant, ticket_id)
        except NotFound:
            return None

    def save(
        self,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None = None,
        condition: Condition | None = None,
        conflict_message: str = "the ticket changed meanwhile; read it again and retry",
    ) -> None:
        """Replace the ticket if it still has ``expected_version`` (and ``condition``), with its event."""
        guard = TicketItem.version == expected_version
        if condition is not None:
            guard = guard & condition
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_item(ticket), condition=guard)
                if event is not None:
                    tx.save(_event_item(ticket.tenant, ticket.id, event))
        except TransactWriteError as exc:
            refused(exc)
            raise Conflict(conflict_message) from exc

    def save_in(
        self,
        tx: TransactWrite,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None = None,
    ) -> None:
        """Add the ticket (conditioned on ``expected_version``) and its event to an open transaction.

        For writes that must commit together with other items (dispatch: the technician's load).
        The ticket is the transaction's next item, its event the one after.
        """
        tx.save(_to_item(ticket), condition=TicketItem.version == expected_version)
        if event is not None:
            tx.save(_event_item(ticket.tenant, ticket.id, event))

    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]:
        items = TicketEventItem.query(
            _ticket_pk(tenant, ticket_id),
            TicketEventItem.sk.startswith(EVENT_PREFIX),
            consistent_read=True,
        )
        return [
            TicketEvent(
                at=i.at,
                actor=i.actor,
                kind=i.kind,
                node=i.node,
                action=i.action,
                version=int(i.version),
                changes=i.changes or {},
            )
            for i in items
        ]

    def open_positions(self, tenant: str) -> Iterator[tuple[str, str]]:
        """(ticket type, node) of each open ticket of the tenant: one Query per shard of the
        open-tickets index (paged by DynamoDB, eventually consistent), never a Scan."""
        for shard in range(OPEN_INDEX_SHARDS):
            query = TicketItem.open_by_tenant.query(
                tenant_key(tenant, "OPEN", str(shard)), attributes_to_get=list(OPEN_INDEX_ATTRIBUTES)
            )
            for item in query:
                yield item.type, item.node

    def page(
        self,
        tenant: str,
        *,
        assignee: str | None = None,
        type: str | None = None,
        status: str | None = None,
        node: str | None = None,
        limit: int = 50,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[Ticket], dict[str, Any] | None]:
        """A page of tickets, newest first, and the key to continue from (``None`` at the end).

        ``start_key`` is a key this method answered for the same listing (an assignee's, or the
        tenant's); another is refused as an invalid cursor (``ValidationFailed``).
        """
        condition: Condition | None = None
        for attribute, value in (
            (TicketItem.type, type),
            (TicketItem.status, status),
            (TicketItem.node, node),
        ):
            if value is not None:
                term = attribute == value
                condition = term if condition is None else condition & term
        if assignee:
            key = tenant_key(tenant, "ASSIGNEE", assignee)
            if start_key is not None and start_key.get("gsi2pk") != {"S": key}:
                raise invalid_cursor()  # another listing's position
            query = TicketItem.by_assignee.query(
                key,
                scan_index_forward=False,
                filter_condition=condition,
                last_evaluated_key=start_key,
                limit=limit,
                page_size=max(limit, 25),
            )
            tickets = [_from_item(cast(TicketItem, item)) for item in query]
            more = query.last_evaluated_key if len(tickets) == limit else None
            return tickets, more
        return self._tenant_page(tenant, condition, limit, start_key)

    def _tenant_page(
        self, tenant: str, condition: Condition | None, limit: int, start_key: dict[str, Any] | None
    ) -> tuple[list[Ticket], dict[str, Any] | None]:
        """The tenant's list: every shard newest first (below the cursor's sort key), merged."""
        before = list_position(start_key)
        page_size = shard_page_size(limit, TICKET_LIST_SHARDS)
        shards = [
            TicketItem.by_tenant.query(
                _list_key(tenant, shard),
                TicketItem.gsi1sk < before if before is not None else None,
                scan_index_forward=False,
                filter_condition=condition,
                limit=limit,
                page_size=page_size,
            )
            for shard in range(TICKET_LIST_SHARDS)
        ]
        # the shards' first pages at once (one round trip of latency, not eight), in the caller's
        # context (its tenant scope signs the requests); further pages, rarely needed, as merged
        pool = _shard_readers()
        started = [pool.submit(contextvars.copy_context().run, _started, shard) for shard in shards]
        items, more = merged_page(
            (future.result() for future in started), lambda item: cast(TicketItem, item).gsi1sk, limit
        )
        return [_from_item(cast(TicketItem, item)) for item in items], more
