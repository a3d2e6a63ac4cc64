"""Customers, their identity keys and timelines in the single table.

Access patterns (Query/GetItem only, never Scan; no index of its own, so no new GSI):

| pattern | key |
|---|---|
| a customer's profile | ``TENANT#t#CUSTOMER#<id>``, ``PROFILE`` |
| the customer an identity key names | ``TENANT#t#CUSTKEY#<key>``, ``KEY`` |
| a customer's timeline, oldest first | ``TENANT#t#CUSTOMER#<id>``, begins_with ``TL#`` |
| customers by name / e-mail prefix | ``TENANT#t#CUSTSEARCH``, begins_with ``<term>`` |

Identity keys are ``phone:+86...``, ``shopify:123``, ``wecom:wm...``, ``email:a@b.c``; timeline sort keys
``TL#<at>#<kind>#<ref>``; search sort keys ``<casefolded name or e-mail>#<id>``.

Keys start ``TENANT#<t>#``, so the tenant fence (``dynamodb:LeadingKeys``) covers every item.

- **One customer per identity.** A new customer is written in one transaction with an identity
  item per key, each conditioned on not existing: of two concurrent creations for the same phone one
  commits, the other is cancelled and its caller resolves again to the winner.
- **Counted once.** A timeline entry and the counters it adds (tickets, orders, lifetime value in
  minor units) commit together, the entry conditioned on not existing: a replayed delivery or a
  retried creation writes the same sort key, is refused, and adds nothing (``record`` → False).
- **Merge** (``merge``), idempotent under retry, in three steps: (1) one transaction marks the loser
  ``merged_into`` and adds its counters to the survivor (conditioned on the loser not being merged
  and on the counters read); (2) the loser's timeline entries are copied under the survivor, in
  transactions of 25 puts of the same keys (a repeat rewrites the same items); (3) its identity items
  are pointed at the survivor. A crash between steps leaves the loser marked: readers follow
  ``merged_into``, and the next resolution that meets the loser runs ``merge`` again, which skips
  step 1 and completes 2 and 3.
- The search partition takes a write only when a profile gains a name or an e-mail (once per
  customer, not per ticket), so one partition per tenant is far from its ~1,000 writes/s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.clock import iso
from shared.cursors import invalid_cursor
from shared.domain.customer import Customer, TimelineEntry, ordered_keys
from shared.errors import Conflict, NotFound
from shared.repositories.base import TableItem, bind, refused, tenant_key, transaction_connection

PROFILE_SK = "PROFILE"
KEY_SK = "KEY"
TIMELINE_PREFIX = "TL#"
_MINOR = Decimal("0.01")
_COPY_BATCH = 25


class CustomerItem(TableItem):
    """The profile: counters as numbers (ADDed in place), the rest as JSON."""

    tenant = UnicodeAttribute()
    id = UnicodeAttribute()
    version = NumberAttribute()
    tickets = NumberAttribute(default=0)
    orders = NumberAttribute(default=0)
    value_minor = NumberAttribute(default=0)
    """Lifetime value in minor units (integers: exact under ``ADD``)."""
    merged_into = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    body = UnicodeAttribute()


class CustomerKeyItem(TableItem):
    customer_id = UnicodeAttribute()


class TimelineItem(TableItem):
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    ref = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    summary = UnicodeAttribute(null=True)


class SearchItem(TableItem):
    customer_id = UnicodeAttribute()


_BODY = ("name", "phones", "emails", "platform_ids", "tier", "tags", "merged_from")


def _profile_pk(tenant: str, customer_id: str) -> str:
    return tenant_key(tenant, "CUSTOMER", customer_id)


def _key_pk(tenant: str, key: str) -> str:
    return tenant_key(tenant, "CUSTKEY", key)


def _search_pk(tenant: str) -> str:
    return tenant_key(tenant, "CUSTSEARCH")


def _minor(value: Decimal) -> int:
    return int((value / _MINOR).to_integral_value())


def _body(customer: Customer) -> str:
    return json.dumps(
        customer.model_dump(mode="json", include=set(_BODY)), ensure_ascii=False, sort_keys=True
    )


def _to_item(customer: Customer) -> CustomerItem:
    return CustomerItem(
        _profile_pk(customer.tenant, customer.id),
        PROFILE_SK,
        tenant=customer.tenant,
        id=customer.id,
        version=customer.version,
        tickets=customer.tickets,
        orders=customer.orders,
        value_minor=_minor(customer.lifetime_value),
        merged_into=customer.merged_into,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        body=_body(customer),
    )


def _from_item(item: CustomerItem) -> Customer:
    return Customer.model_validate(
        {
            **json.loads(item.body),
            "tenant": item.tenant,
            "id": item.id,
            "version": int(item.version),
            "tickets": int(item.tickets or 0),
            "orders": int(item.orders or 0),
            "lifetime_value": Decimal(int(item.value_minor or 0)) * _MINOR,
            "merged_into": item.merged_into,
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }
    )


def timeline_sk(entry: TimelineEntry) -> str:
    return f"{TIMELINE_PREFIX}{iso(entry.at)}#{entry.kind}#{entry.ref}"


def _timeline_item(tenant: str, customer_id: str, entry: TimelineEntry) -> TimelineItem:
    return TimelineItem(
        _profile_pk(tenant, customer_id),
        timeline_sk(entry),
        at=entry.at,
        kind=entry.kind,
        ref=entry.ref,
        channel=entry.channel,
        summary=json.dumps(entry.summary, ensure_ascii=False, default=str) if entry.summary else None,
    )


def _entry(item: TimelineItem) -> TimelineEntry:
    return TimelineEntry(
        at=item.at,
        kind=item.kind,
        ref=item.ref,
        channel=item.channel,
        summary=json.loads(item.summary) if item.summary else {},
    )


def _search_terms(customer: Customer) -> set[str]:
    terms = {email.casefold() for email in customer.emails}
    if customer.name:
        terms.add(customer.name.strip().casefold())
    return {term[:200] for term in terms if term}


class CustomerRepository:
    """The only place that knows how customers, their keys and timelines are keyed and stored."""

    def __init__(self) -> None:
        bind(CustomerItem, CustomerKeyItem, TimelineItem, SearchItem)
        self._connection = transaction_connection()

    # ------------------------------------------------------------------ reads

    def get(self, tenant: str, customer_id: str) -> Customer:
        try:
            item = CustomerItem.get(_profile_pk(tenant, customer_id), PROFILE_SK, consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"customer '{customer_id}' does not exist") from None
        return _from_item(item)

    def find(self, tenant: str, customer_id: str) -> Customer | None:
        try:
            return self.get(tenant, customer_id)
        except NotFound:
            return None

    def owners(self, tenant: str, keys: Sequence[str]) -> dict[str, str]:
        """Identity key → the customer id it names (keys no one holds are left out)."""
        # one GetItem per key (a ticket has one to three): the tenant data role grants no BatchGetItem
        found: dict[str, str] = {}
        for key in dict.fromkeys(keys):
            try:
                item = CustomerKeyItem.get(_key_pk(tenant, key), KEY_SK, consistent_read=True)
            except DoesNotExist:
                continue
            found[key] = item.customer_id
        return found

    def timeline(
        self, tenant: str, customer_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None
    ) -> tuple[list[TimelineEntry], dict[str, Any] | None]:
        """A page of the timeline, oldest first, and the key to continue from (``None`` at the end)."""
        pk = _profile_pk(tenant, customer_id)
        if start_key is not None and start_key.get("pk") != {"S": pk}:
            raise invalid_cursor()  # another customer's (or listing's) position
        query = TimelineItem.query(
            pk,
            TimelineItem.sk.startswith(TIMELINE_PREFIX),
            scan_index_forward=True,
            consistent_read=True,
            limit=limit,
            last_evaluated_key=start_key,
            page_size=limit,
        )
        entries = [_entry(item) for item in query]
        more = query.last_evaluated_key if len(entries) == limit else None
        return entries, more

    def all_timeline(self, tenant: str, customer_id: str) -> list[TimelineEntry]:
        return [
            _entry(item)
            for item in TimelineItem.query(
                _profile_pk(tenant, customer_id),
                TimelineItem.sk.startswith(TIMELINE_PREFIX),
                consistent_read=True,
            )
        ]

    def search(self, tenant: str, prefix: str, limit: int = 20) -> list[str]:
        """Customer ids whose name or e-mail starts with ``prefix`` (case-insensitive), by term."""
        term = prefix.strip().casefold()
        if not term:
            return []
        ids: list[str] = []
        for item in SearchItem.query(_search_pk(tenant), SearchItem.sk.startswith(term), page_size=limit * 2):
            if item.customer_id not in ids:
                ids.append(item.customer_id)
            if len(ids) >= limit:
                break
        return ids

    # ------------------------------------------------------------------ writes

    def create(self, customer: Customer) -> bool:
        """Store a new customer and its identity keys together; False (nothing written) when one of
        the keys already names a customer (a concurrent creation won: resolve again)."""
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_to_item(customer), condition=CustomerItem.pk.does_not_exist())
                for key in ordered_keys(customer.keys):
                    tx.save(
                        CustomerKeyItem(_key_pk(customer.tenant, key), KEY_SK, customer_id=customer.id),
                        condition=CustomerKeyItem.pk.does_not_exist(),
                    )
        except TransactWriteError as exc:
            refused(exc)
            return False
        self._index(customer, set())
        return True

    def claim(self, tenant: str, customer_id: str, keys: Iterable[str]) -> list[str]:
        """Point the unclaimed ``keys`` at the customer; the keys another customer holds meanwhile."""
        taken: list[str] = []
        for key in keys:
            try:
                CustomerKeyItem(_key_pk(tenant, key), KEY_SK, customer_id=customer_id).save(
                    condition=CustomerKeyItem.pk.does_not_exist()
                    | (CustomerKeyItem.customer_id == customer_id)
                )
            except PutError as exc:  # held by another customer
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                taken.append(key)
        return taken

    def save(self, customer: Customer, *, expected_version: int, before: Customer | None = None) -> Customer:
        """Replace the profile's identities, name, tier and tags if it is still at ``expected_version``
        (the counters are left as they are: ``record`` ADDs them); the profile as stored (read from the
        update's answer). ``before``: the profile the caller read, whose search terms are indexed already
        (read here when not given)."""
        old = before if before is not None else self.get(customer.tenant, customer.id)
        item = _to_item(customer)
        try:
            item.update(
                actions=[
                    CustomerItem.body.set(_body(customer)),
                    CustomerItem.updated_at.set(customer.updated_at),
                    CustomerItem.version.set(expected_version + 1),
                ],
                condition=(CustomerItem.version == expected_version)
                & CustomerItem.merged_into.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            raise Conflict(f"customer '{customer.id}' changed meanwhile") from exc
        self._index(customer, _search_terms(old))
        return _from_item(item)  # pynamodb refreshed it from the update's ALL_NEW answer

    def _index(self, customer: Customer, before: set[str]) -> None:
        for term in sorted(_search_terms(customer) - before):
            SearchItem(_search_pk(customer.tenant), f"{term}#{customer.id}", customer_id=customer.id).save()

    def record(
        self,
        tenant: str,
        customer_id: str,
        entry: TimelineEntry,
        *,
        tickets: int = 0,
        orders: int = 0,
        value: Decimal = Decimal("0"),
    ) -> bool:
        """Add a timeline entry and its counters at once; False if the entry is there already
        (counted before). ``Conflict`` if the customer was merged meanwhile (resolve again)."""
        item = _timeline_item(tenant, customer_id, entry)
        if not (tickets or orders or value):
            # nothing to count: one conditional put (1 WRU) instead of a transaction (4 WRU); the caller
            # read the customer as live just before (``functions/ticket/customers.py``)
            try:
                item.save(condition=TimelineItem.sk.does_not_exist())
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                return False
            return True
        actions: list[Action] = [
            CustomerItem.tickets.add(tickets),
            CustomerItem.orders.add(orders),
            CustomerItem.value_minor.add(_minor(value)),
        ]
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(item, condition=TimelineItem.sk.does_not_exist())
                tx.update(
                    CustomerItem(_profile_pk(tenant, customer_id), PROFILE_SK),
                    actions=actions,
                    condition=CustomerItem.pk.exists() & CustomerItem.merged_into.does_not_exist(),
                )
        except TransactWriteError as exc:
            refused(exc)
            reasons = exc.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return False
            raise Conflict(f"customer '{customer_id}' was merged or removed meanwhile") from exc
        return True

    def merge(self, keeper: Customer, loser: Customer, combined: Customer, at: datetime) -> None:
        """Merge ``loser`` into ``keeper`` (see the module docstring); ``combined`` is the keeper's
        profile with the loser's identities (``shared.domain.customer.merged``). Safe to repeat."""
        tenant = keeper.tenant
        if loser.merged_into is None:
            loser_item = CustomerItem(_profile_pk(tenant, loser.id), PROFILE_SK)
            keeper_item = CustomerItem(_profile_pk(tenant, keeper.id), PROFILE_SK)
            try:
                with TransactWrite(connection=self._connection) as tx:
                    tx.update(
                        loser_item,
                        actions=[CustomerItem.merged_into.set(keeper.id), CustomerItem.updated_at.set(at)],
                        condition=CustomerItem.merged_into.does_not_exist()
                        & (CustomerItem.tickets == loser.tickets)
                        & (CustomerItem.orders == loser.orders)
                        & (CustomerItem.value_minor == _minor(loser.lifetime_value)),
                    )
                    tx.update(
                        keeper_item,
                        actions=[
                            CustomerItem.tickets.add(loser.tickets),
                            CustomerItem.orders.add(loser.orders),
                            CustomerItem.value_minor.add(_minor(loser.lifetime_value)),
                            CustomerItem.body.set(_body(combined)),
                            CustomerItem.updated_at.set(at),
                            CustomerItem.version.set(keeper.version + 1),
                        ],
                        condition=(CustomerItem.version == keeper.version)
                        & CustomerItem.merged_into.does_not_exist(),
                    )
            except TransactWriteError as exc:
                refused(exc)
                fresh = self.get(tenant, loser.id)
                if fresh.merged_into != keeper.id:
                    raise Conflict(f"customers '{keeper.id}' and '{loser.id}' changed meanwhile") from exc
            self._index(combined, set())
        # (2) the loser's timeline under the survivor, (3) its identities pointed at the survivor
        entries = self.all_timeline(tenant, loser.id)
        for start in range(0, len(entries), _COPY_BATCH):
            with TransactWrite(connection=self._connection) as tx:
                for entry in entries[start : start + _COPY_BATCH]:
                    tx.save(_timeline_item(tenant, keeper.id, entry))
        for key in loser.keys:
            CustomerKeyItem(_key_pk(tenant, key), KEY_SK, customer_id=keeper.id).save()
