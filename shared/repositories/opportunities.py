"""Sales opportunities in the single table, each write with its domain event in the outbox.

Access patterns (GetItem/Query only, never Scan; the shared sparse indexes ``gsi1``/``gsi2``, which
the technicians use too, so no new index):

| pattern | key |
|---|---|
| an opportunity | ``TENANT#t#OPP#<id>``, ``OPP`` |
| the tenant's, by status, newest first | gsi1: gsi1pk=``TENANT#t#OPPS``, gsi1sk=``<status>#<created>#<id>`` |
| an owner's, by status, newest first | gsi2: gsi2pk=``TENANT#t#OPPS#OWNER#<owner>``, gsi2sk = gsi1sk |

``<owner>`` is a user id or ``role:<id>``; a filter by status is ``begins_with`` on the sort key, so
every combination of ``status`` and ``owner`` is one Query. Index reads are eventually consistent
(a list may trail a write by a moment; ``GET /opportunities/{id}`` reads the item consistently).

- **Opened once.** The item is put on condition it does not exist, in one transaction with its
  ``opportunity.created`` outbox item: a retried ticket event (same id: ticket + rule) is cancelled
  and writes nothing (``create`` → False), so one opportunity and one event.
- **Moved once.** ``save`` replaces the item on condition its version is the one read, in one
  transaction with the event (``opportunity.won``/``lost``; an assignment has none): of two
  concurrent wins one commits and the other is a ``Conflict`` (409).
- Keys start ``TENANT#<t>#`` (the index keys too), so the tenant fence covers every read and write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.cursors import invalid_cursor
from shared.domain.events import DomainEvent
from shared.domain.opportunity import Opportunity
from shared.errors import Conflict, NotFound
from shared.repositories.base import Gsi1, Gsi2, TableItem, bind, refused, tenant_key, transaction_connection
from shared.repositories.outbox import OutboxItem, outbox_item

OPP_SK = "OPP"
_BODY_EXCLUDE = {"tenant", "id", "status", "owner", "version", "created_at", "updated_at"}


class OpportunityItem(TableItem):
    tenant = UnicodeAttribute()
    id = UnicodeAttribute()
    status = UnicodeAttribute()
    owner = UnicodeAttribute()
    version = NumberAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    body = UnicodeAttribute()
    """Kind, amount, ticket, customer, history ... as JSON (read whole, never queried on)."""
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_tenant = Gsi1()
    by_owner = Gsi2()


def _pk(tenant: str, opportunity_id: str) -> str:
    return tenant_key(tenant, "OPP", opportunity_id)


def _list_pk(tenant: str) -> str:
    return tenant_key(tenant, "OPPS")


def _owner_pk(tenant: str, owner: str) -> str:
    return tenant_key(tenant, "OPPS", "OWNER", owner)


def _to_item(opp: Opportunity) -> OpportunityItem:
    position = f"{opp.status}#{iso(opp.created_at)}#{opp.id}"
    return OpportunityItem(
        _pk(opp.tenant, opp.id),
        OPP_SK,
        tenant=opp.tenant,
        id=opp.id,
        status=opp.status,
        owner=opp.owner,
        version=opp.version,
        created_at=opp.created_at,
        updated_at=opp.updated_at,
        body=json.dumps(opp.model_dump(mode="json", exclude=_BODY_EXCLUDE), ensure_ascii=False),
        gsi1pk=_list_pk(opp.tenant),
        gsi1sk=position,
        gsi2pk=_owner_pk(opp.tenant, opp.owner),
        gsi2sk=position,
    )


def _from_item(item: OpportunityItem) -> Opportunity:
    return Opportunity.model_validate(
        {
            **json.loads(item.body),
            "tenant": item.tenant,
            "id": item.id,
            "status": item.status,
            "owner": item.owner,
            "version": int(item.version),
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }
    )


class OpportunityRepository:
    """The only place that knows how opportunities are keyed and stored."""

    def __init__(self) -> None:
        bind(OpportunityItem, OutboxItem)
        self._connection = transaction_connection()

    def get(self, tenant: str, opportunity_id: str) -> Opportunity:
        try:
            item = OpportunityItem.get(_pk(tenant, opportunity_id), OPP_SK, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"opportunity '{opportunity_id}' does not exist") from None
        return _from_item(item)

    def create(self, opp: Opportunity, event: DomainEvent) -> bool:
        """Store a new opportunity and its ``opportunity.created`` event together; False (nothing
        written) when it exists already (a retried ticket event)."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_item(opp), condition=OpportunityItem.pk.does_not_exist())
                tx.save(outbox_item(event))
        except TransactWriteError as exc:
            refused(exc)
            reasons = exc.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return False
            raise
        return True

    def save(
        self, opp: Opportunity, *, expected_version: int, event: DomainEvent | None = None
    ) -> Opportunity:
        """Replace the opportunity if it is still at ``expected_version``, with its event (if the
        change is one); else ``Conflict`` (someone moved it meanwhile: read it again)."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_item(opp), condition=OpportunityItem.version == expected_version)
                if event is not None:
                    tx.save(outbox_item(event))
        except TransactWriteError as exc:
            refused(exc)
            reasons = exc.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                raise Conflict(
                    f"opportunity '{opp.id}' changed meanwhile (it is no longer version "
                    f"{expected_version}); read it again"
                ) from exc
            raise
        return opp

    def page(
        self,
        tenant: str,
        *,
        status: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[Opportunity], dict[str, Any] | None]:
        """A page of the tenant's opportunities (of one status and/or owner), by status, newest
        first, and the key to continue from (``None`` at the end)."""
        index: Gsi1 | Gsi2
        if owner is not None:
            index, hash_key, key_name = OpportunityItem.by_owner, _owner_pk(tenant, owner), "gsi2pk"
            range_cond = OpportunityItem.gsi2sk.startswith(f"{status}#") if status else None
        else:
            index, hash_key, key_name = OpportunityItem.by_tenant, _list_pk(tenant), "gsi1pk"
            range_cond = OpportunityItem.gsi1sk.startswith(f"{status}#") if status else None
        if start_key is not None and start_key.get(key_name) != {"S": hash_key}:
            raise invalid_cursor()  # another listing's position
        query = index.query(
            hash_key,
            range_cond,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=start_key,
            page_size=limit,
        )
        found = [_from_item(cast(OpportunityItem, item)) for item in query]
        more = query.last_evaluated_key if len(found) == limit else None
        return found, more

    def every(self, tenant: str) -> Iterator[Opportunity]:
        """All the tenant's opportunities (the pipeline report): one Query of its ``gsi1``
        partition, read page by page, ~0.5 RCU per 4 KB."""
        for item in OpportunityItem.by_tenant.query(_list_pk(tenant)):
            yield _from_item(cast(OpportunityItem, item))
