"""Tickets and their history in the single table.

Access patterns (all Query/GetItem, never Scan):

| pattern | key |
|---|---|
| get a ticket | pk=``TENANT#t#TICKET#id``, sk=``TICKET`` |
| history of a ticket, oldest first | pk=``TENANT#t#TICKET#id``, sk begins_with ``EVT#`` |
| a tenant's tickets, newest first | gsi5: gsi5pk=``TENANT#t#TICKETS#<shard>``, lsk=``<created_at>#<id>`` |
| an assignee's tickets, newest first | gsi6: ``TENANT#t#ASSIGNEE#<ref>``, lsk |
| open tickets (type, node) | gsi3: gsi3pk=``TENANT#t#OPEN#<shard>``, lsk |

The three ticket indexes share one sort-key attribute, ``lsk`` (the same value thrice cost ~100
bytes of every ticket item, and every save writes the item whole).

The two lists have indexes of their own (not the shared ``gsi1``/``gsi2``, which project every
attribute for the technicians): they project only the keys and what a list filters on (``type``,
``status``, ``node``), never the ticket's ``body``. Every save of a ticket rewrites its entry in
both lists; with the body projected that was a write of the whole item per index (2 WRU each for a
ticket of 1-2 KB, ~16 WRU per install ticket), now ~200 bytes (1 WRU). A page then reads its
tickets' items by key (``BatchGetItem``, eventually consistent like the index): 0.5 RRU per ticket
instead of the index's bytes (≈ 0.5 RRU per 4 KB). Lists are read far less often than tickets
are saved, so the trade pays (``docs/design.md``).

``gsi3`` is sparse: only open tickets carry its keys (a ticket leaves it when it closes, fails or
is cancelled), and it projects only ``type`` and ``node``, so counting a tenant's open tickets per
node (the ``OpenTickets`` gauge) is one Query per shard that reads about 150 bytes per open ticket.
It is write-sharded like the list (every open ticket's save rewrites its entry), in
``OPEN_INDEX_SHARDS`` shards by the same ``list_shard`` of the ticket id.

The tenant's ticket list is write-sharded: every save of a ticket rewrites its ``gsi5`` entry, so
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
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.cursors import invalid_cursor
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.errors import Conflict, NotFound
from shared.repositories.base import (
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
TICKET_INDEX_SORT_KEY = "lsk"
LIST_INDEX = "gsi5"
ASSIGNEE_INDEX = "gsi6"
LIST_INDEX_ATTRIBUTES = ("type", "status", "node")
"""Non-key attributes the two ticket lists project (``infra/constructs/table.py`` builds them): what
``page`` filters on. Keys (``pk``, ``sk``) are projected always: a page reads its bodies by them."""
OPEN_INDEX_SHARDS = TICKET_LIST_SHARDS
"""Shards of the open-tickets index: a ticket's entry is in ``list_shard(id)``, as in the list."""
"""Partitions of a tenant's ticket list (``gsi5``). Every ticket save writes its list entry; 8 shards
lift one tenant's ceiling from ~1,000 to ~8,000 entry writes/s (ample for 100 new tickets/s and their
~10 saves each), while a page costs 8 small Queries. Changing it re-keys every ticket: a migration."""


class OpenTicketsIndex(GlobalSecondaryIndex["TicketItem"]):
    """Sparse: only open tickets have ``gsi3pk``."""

    class Meta:
        index_name = OPEN_INDEX
        projection = IncludeProjection(list(OPEN_INDEX_ATTRIBUTES))

    gsi3pk = UnicodeAttribute(hash_key=True)
    lsk = UnicodeAttribute(range_key=True)


class TicketListIndex(GlobalSecondaryIndex["TicketItem"]):
    """A tenant's tickets, sharded: keys and the filter columns only (no body)."""

    class Meta:
        index_name = LIST_INDEX
        projection = IncludeProjection(list(LIST_INDEX_ATTRIBUTES))

    gsi5pk = UnicodeAttribute(hash_key=True)
    lsk = UnicodeAttribute(range_key=True)


class AssigneeIndex(GlobalSecondaryIndex["TicketItem"]):
    """An assignee's tickets (sparse: assigned tickets only): keys and the filter columns only."""

    class Meta:
        index_name = ASSIGNEE_INDEX
        projection = IncludeProjection(list(LIST_INDEX_ATTRIBUTES))

    gsi6pk = UnicodeAttribute(hash_key=True)
    lsk = UnicodeAttribute(range_key=True)


class TicketItem(TableItem):
    gsi5pk = UnicodeAttribute()
    gsi6pk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    lsk = UnicodeAttribute()
    """The sort key of all three ticket indexes (``<created_at>#<id>``): newest first, unique."""
    by_tenant = TicketListIndex()
    by_assignee = AssigneeIndex()
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
    # Every save rewrites the item in a transaction (2 WRU per started KB), so its size is the
    # ticket's main running cost: deflated with a preset dictionary (``_pack``) it is about a
    # fifth of the JSON. No index projects it.
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


_BODY_V1 = b"\x01"
"""Format byte of a body deflated with ``_BODY_DICTIONARY_V1``. Bodies written before it are gzip
(they start with ``\x1f\x8b``) and are still read."""
_BODY_DICTIONARY_V1 = "".join(
    (
        # Constant fragments of what the platform itself writes in a ticket's body (its own key
        # names and fixed values, no tenant's data), as zlib's preset dictionary: a small JSON
        # document compresses poorly on its own (the key names are most of it and occur once),
        # with them primed it takes about half the bytes, so most saves of a ticket stay under
        # 1 KB (DynamoDB bills writes per started KB, twice in a transaction). NEVER edit it:
        # stored bodies need it byte for byte; a better one is a new format byte.
        '"settlement":{"sequence":1,"technician":"","tier":"","lines":[{"code":"","kind":"service_item",'
        '"name":"","unit":"","unit_price":"","quantity":"1","coefficient":"1.00","amount":""},'
        '{"code":"","kind":"part","name":"","surcharges":[],"subtotal":"","total":"",'
        '"installer_share_percent":"","earnings":"","currency":"CNY","period":"","completed_at":"",'
        '"settled_at":"","adjustment":null},',
        '"explanation":{"considered":1,"eligible":1,"weights":{"distance":"0.35","skill":"0.25",'
        '"load":"0.20","rating":"0.10","fairness":"0.10"},"max_distance_km":"","top":[{"rank":1,'
        '"technician":"","total":"1.0000","criteria":{"distance":{"raw":"home region","normalized":'
        '"1.0000","weight":"","contribution":""},"skill":{"raw":1,"normalized":"0.0000","weight":"",'
        '"contribution":""},"load":{"raw":"0","normalized":"","weight":"","contribution":""},'
        '"rating":{"raw":"","normalized":"","weight":"","contribution":""},"fairness":{"raw":0,'
        '"normalized":"","weight":"","contribution":""}}}],"not_shown":0,"filtered":{}},',
        '"sla":{"policy":"","node":"","priority":"normal","visit":1,"budget":0,"consumed":0,'
        '"entered_at":"","deadline":"","levels":[{"name":"yellow","at":"","fired":false},'
        '{"name":"orange","at":"","fired":false},{"name":"red","at":"","fired":false}],"level":null,'
        '"breached":false,"paused":false,"paused_at":null,"paused_on":null,"paused_time":0,'
        '"chained":true,"digest":""},',
        '{"assignee":{"kind":"technician","id":""},{"kind":"role","id":""},"fields":{"priority":"normal"},'
        '"created_by":"channel:","channel":"","workflow_version":"arn:aws:states:us-east-1:",'
        ':stateMachine:scrm-,"catalog_version":"","sla_policy":"","execution_arn":"arn:aws:states:'
        ':execution:scrm-","token":null,"token_node":null,"routing":"catch","route_success":[""],'
        '"retries":0,"failure":null,"visits":{"":1},"parent_id":null,"children":[],"dispatch":'
        '{"node":"","at":"","declined":[],"attempt":1,"version":2,"offer_expires_at":"","technician":"",'
        '"settlement":null,"closed_at":null,"reason":null,"handoff":null,"incomplete":null,'
        '"follow_ups":[],"customer_id":null}',
        "T00:00:00+08:00T00:00:00.000Z",
    )
).encode("utf-8")


def _pack(data: dict[str, Any]) -> bytes:
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=_BODY_DICTIONARY_V1)
    return _BODY_V1 + deflate.compress(raw) + deflate.flush()


def _unpack(blob: bytes | None) -> dict[str, Any]:
    if not blob:
        return {}
    if blob[:1] == _BODY_V1:
        inflate = zlib.decompressobj(-15, zdict=_BODY_DICTIONARY_V1)
        return dict(json.loads(inflate.decompress(blob[1:]) + inflate.flush()))
    return dict(json.loads(gzip.decompress(blob)))


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
        gsi5pk=_list_key(ticket.tenant, list_shard(ticket.id)),
        gsi6pk=assignee_pk,
        gsi3pk=tenant_key(ticket.tenant, "OPEN", str(list_shard(ticket.id))) if is_open else None,
        lsk=sort,
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
        """Replace the ticket if it still has ``expected_version`` (and ``condition``), with its event.

        With an event, the two are one transaction (2 WRU per KB each); without one (a change that
        explains nothing, such as recording the execution's ARN) a conditional put is enough, at half
        the price: the condition is the same optimistic lock."""
        guard = TicketItem.version == expected_version
        if condition is not None:
            guard = guard & condition
        if event is None:
            try:
                _to_item(ticket).save(condition=guard)
            except PutError as exc:
                refused(exc)
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                raise Conflict(conflict_message) from exc
            return
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
            if start_key is not None and start_key.get("gsi6pk") != {"S": key}:
                raise invalid_cursor()  # another listing's position
            query = TicketItem.by_assignee.query(
                key,
                scan_index_forward=False,
                filter_condition=condition,
                last_evaluated_key=start_key,
                limit=limit,
                page_size=max(limit, 25),
            )
            entries = [cast(TicketItem, item) for item in query]
            more = query.last_evaluated_key if len(entries) == limit else None
            return self._bodies(entries), more
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
                TicketItem.lsk < before if before is not None else None,
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
            (future.result() for future in started), lambda item: cast(TicketItem, item).lsk, limit
        )
        return self._bodies([cast(TicketItem, item) for item in items]), more

    @staticmethod
    def _bodies(entries: list[TicketItem]) -> list[Ticket]:
        """The tickets of a page's index entries, in the entries' order: their items read by key
        (``BatchGetItem``, 100 keys a request; pynamodb retries unprocessed keys). A ticket gone
        between the index read and this one (a discarded creation) is left out."""
        if not entries:
            return []
        keys = list(dict.fromkeys((entry.pk, entry.sk) for entry in entries))
        found = {(item.pk, item.sk): item for item in TicketItem.batch_get(keys)}
        return [_from_item(found[key]) for key in keys if key in found]
