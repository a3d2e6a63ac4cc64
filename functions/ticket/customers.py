"""Customers: resolved when a ticket is created, shown by ``GET /customers*``.

- ``resolve`` (at ticket creation): the ticket's identity keys (its phone / e-mail fields as the
  tenant's ``customers.identity_fields`` say, and the delivery's buyer id) name zero, one or several
  customers. None: a new customer with every key (of two concurrent creations one wins, the other
  resolves again to it). Several: they are merged into the oldest (``shared.domain.customer``).
  Keys no one holds yet are added to the customer.
- ``record_ticket`` / ``record_closed``: the ticket (and, for a delivery, the order with its total)
  goes on the customer's timeline with its counters, once per ticket and per delivery, however often
  intake retries; then the tier and tags are computed again from the tenant's rules.
- reading: ``GET /customers/{id}`` of a merged customer answers the survivor's profile with
  ``"requested_id"`` set to the id asked for (one read gives the caller what it wants; the id it
  holds stays valid); the timeline of a merged id is the survivor's, which holds both.
- who sees what: staff (``access.STAFF_ROLES``) every customer of their tenant; a technician only
  customers with a ticket dispatched to them; anyone else, and a technician asking for another's
  customer, gets 404 (no hint that the customer exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from jmespath.exceptions import JMESPathError

from functions.ticket.access import STAFF_ROLES
from shared.clock import now
from shared.domain.customer import (
    ECOMMERCE,
    PLATFORM_PATHS,
    Customer,
    TimelineEntry,
    classify,
    identity_fields,
    keys_from_fields,
    merged,
    new_customer_id,
    normalise_email,
    normalise_phone,
    ordered_keys,
    platform_key,
    survivor,
    with_keys,
)
from shared.domain.deliveries import search
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.observability import logger

if TYPE_CHECKING:
    from shared.domain.deliveries import StoredDelivery
    from shared.domain.ticket import Ticket
    from shared.identity import Caller
    from shared.ports import CustomerStore, TicketStore
    from shared.tenant.models import Channel, TenantConfig

ATTEMPTS = 6
"""Resolutions tried before giving up (each lost race re-reads; merges converge in one or two)."""
MERGE_DEPTH = 8
TECHNICIAN_TICKETS_CHECKED = 200
"""A technician's access is proved by one of the customer's tickets: at most this many are read."""


@dataclass(frozen=True)
class BuyerHints:
    """What a delivery says of its buyer (``hints_from_delivery``)."""

    channel: str
    platform: str
    delivery_id: str
    received_at: datetime
    buyer_key: str | None = None
    email: str | None = None
    order_total: Decimal | None = None


def _search(expression: str | None, payload: Any) -> Any:
    if not expression:
        return None
    try:
        return search(expression, payload)
    except JMESPathError:
        return None


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def hints_from_delivery(cfg: TenantConfig, channel: Channel, delivery: StoredDelivery) -> BuyerHints:
    """The buyer id, e-mail and order total of a delivery: the platform's paths
    (``PLATFORM_PATHS``), each overridden by the tenant's ``customers.deliveries.<channel>``."""
    paths = dict(PLATFORM_PATHS.get(channel.platform, {}))
    override = cfg.customers.deliveries.get(channel.id)
    if override is not None:
        paths.update({k: v for k, v in override.model_dump().items() if v is not None})
    payload = delivery.payload
    total = _amount(_search(paths.get("order_total"), payload)) if channel.platform in ECOMMERCE else None
    return BuyerHints(
        channel=channel.id,
        platform=channel.platform,
        delivery_id=delivery.delivery_id,
        received_at=delivery.received_at,
        buyer_key=platform_key(channel.platform, _search(paths.get("buyer_id"), payload)),
        email=normalise_email(_search(paths.get("email"), payload)),
        order_total=total,
    )


# --------------------------------------------------------------------------- resolution


def _keys(
    cfg: TenantConfig, type_id: str, fields: dict[str, Any], hints: BuyerHints | None
) -> tuple[list[str], str | None]:
    ticket_type = cfg.ticket_types[type_id]
    carriers = identity_fields(cfg.customers, {f.name: f.type for f in ticket_type.fields})
    keys, name = keys_from_fields(fields, carriers, cfg.customers.default_country)
    if hints is not None:
        keys += [key for key in (hints.buyer_key, f"email:{hints.email}" if hints.email else None) if key]
    return ordered_keys(keys), name


def live(store: CustomerStore, tenant: str, customer_id: str, *, finish: bool = False) -> Customer:
    """The customer ``customer_id`` is now: itself, or the survivor it was merged into. ``finish``
    completes an interrupted merge on the way (its copy and re-pointing steps are idempotent)."""
    customer = store.get(tenant, customer_id)
    for _ in range(MERGE_DEPTH):
        if customer.merged_into is None:
            return customer
        keeper = store.get(tenant, customer.merged_into)
        if finish:
            store.merge(keeper, customer, merged(keeper, customer, now()), now())
        customer = keeper
    raise Conflict(f"customer '{customer_id}' is merged too many times over")


def _merge_all(store: CustomerStore, customers: list[Customer]) -> Customer:
    """Merge every one of ``customers`` into the oldest; the survivor as stored."""
    keeper = customers[0]
    for other in customers[1:]:
        keeper, loser = survivor(keeper, other)
        at = now()
        store.merge(keeper, loser, merged(keeper, loser, at), at)
        keeper = store.get(keeper.tenant, keeper.id)
        logger.info("customers merged", customer_id=keeper.id, merged_id=loser.id)
    return keeper


def resolve(
    store: CustomerStore,
    cfg: TenantConfig,
    type_id: str,
    fields: dict[str, Any],
    hints: BuyerHints | None = None,
) -> str | None:
    """The id of the customer a new ticket is about (created or merged as needed; see the module
    docstring); None when the ticket carries no identity at all."""
    tenant = cfg.tenant.id
    keys, name = _keys(cfg, type_id, fields, hints)
    if not keys:
        return None
    for _ in range(ATTEMPTS):
        owners = store.owners(tenant, keys)
        known: dict[str, Customer] = {}
        for key in keys:
            if key in owners:
                customer = live(store, tenant, owners[key], finish=True)
                known.setdefault(customer.id, customer)
        at = now()
        if not known:
            fresh = with_keys(
                Customer(tenant=tenant, id=new_customer_id(), created_at=at, updated_at=at), keys, name, at
            )
            tier, tags = classify(fresh, cfg.customers)
            fresh = fresh.model_copy(update={"tier": tier, "tags": tags})
            if store.create(fresh):
                logger.info("customer created", customer_id=fresh.id)
                return fresh.id
            continue  # a concurrent creation took one of the keys: resolve again
        customer = _merge_all(store, list(known.values())) if len(known) > 1 else next(iter(known.values()))
        if store.claim(tenant, customer.id, [key for key in keys if key not in owners]):
            continue  # a key went to another customer meanwhile: the next round merges it
        updated = with_keys(customer, keys, name, at)
        if updated is not customer:
            try:
                store.save(updated, expected_version=customer.version, before=customer)
            except Conflict:
                continue
        return customer.id
    raise Conflict("the customer of this ticket changed under us too often; send the request again")


def _record(
    store: CustomerStore, tenant: str, customer_id: str, entry: TimelineEntry, **counters: Any
) -> str:
    """Record on the customer (or, if merged meanwhile, its survivor); the id recorded on."""
    if not any(counters.values()):  # a plain put, which does not check for a merge: read it first
        customer_id = live(store, tenant, customer_id).id
    for _ in range(MERGE_DEPTH):
        try:
            store.record(tenant, customer_id, entry, **counters)
            return customer_id
        except Conflict:
            customer_id = live(store, tenant, customer_id).id
    raise Conflict(f"customer '{customer_id}' keeps being merged; try again")


def reclassify(store: CustomerStore, cfg: TenantConfig, customer_id: str) -> Customer:
    """The tier and tags from the tenant's rules, saved when they changed."""
    for _ in range(ATTEMPTS):
        customer = live(store, cfg.tenant.id, customer_id)
        tier, tags = classify(customer, cfg.customers)
        if (tier, tags) == (customer.tier, customer.tags):
            return customer
        try:
            return store.save(
                customer.model_copy(update={"tier": tier, "tags": tags, "updated_at": now()}),
                expected_version=customer.version,
                before=customer,
            )
        except Conflict:
            continue
    return live(store, cfg.tenant.id, customer_id)


def record_ticket(
    store: CustomerStore, cfg: TenantConfig, ticket: Ticket, hints: BuyerHints | None = None
) -> None:
    """The ticket (and the delivery it came from, with its order total) on the customer's timeline,
    counted once however often this runs; then tier and tags again."""
    if ticket.customer_id is None:
        return
    tenant = cfg.tenant.id
    entry = TimelineEntry(
        at=ticket.created_at,
        kind="ticket_opened",
        ref=ticket.id,
        channel=ticket.channel,
        summary={"type": ticket.type},
    )
    customer_id = _record(store, tenant, ticket.customer_id, entry, tickets=1)
    if hints is not None:
        order = hints.order_total is not None
        delivery = TimelineEntry(
            at=hints.received_at,
            kind="order_received" if order else "delivery_received",
            ref=f"{hints.channel}/{hints.delivery_id}",
            channel=hints.channel,
            summary={"platform": hints.platform, "ticket_id": ticket.id}
            | ({"order_total": str(hints.order_total)} if order else {}),
        )
        counters: dict[str, Any] = {"orders": 1, "value": hints.order_total} if order else {}
        customer_id = _record(store, tenant, customer_id, delivery, **counters)
    reclassify(store, cfg, customer_id)


def record_closed(store: CustomerStore, cfg: TenantConfig, ticket: Ticket, at: datetime, kind: str) -> None:
    """A ticket closed or cancelled, on its customer's timeline (once)."""
    if ticket.customer_id is None:
        return
    entry = TimelineEntry(
        at=at, kind=f"ticket_{kind}", ref=ticket.id, channel=ticket.channel, summary={"type": ticket.type}
    )
    _record(store, cfg.tenant.id, ticket.customer_id, entry)


# --------------------------------------------------------------------------- reading


def is_staff(caller: Caller) -> bool:
    return caller.has_any(*STAFF_ROLES)


def visible_customer(
    store: CustomerStore, tickets: TicketStore, caller: Caller, customer_id: str
) -> tuple[Customer, str | None]:
    """The customer (the survivor, for a merged id) and the id asked for when it differs; staff see
    any, a technician only a customer with a ticket dispatched to them; else ``NotFound``."""
    customer = live(store, caller.tenant, customer_id)  # NotFound when there is none
    if not is_staff(caller) and not _technician_sees(store, tickets, caller, customer):
        raise NotFound(f"customer '{customer_id}' does not exist")  # the same answer: no hint it exists
    return customer, (customer_id if customer.id != customer_id else None)


def _technician_sees(store: CustomerStore, tickets: TicketStore, caller: Caller, customer: Customer) -> bool:
    if "technician" not in caller.roles:
        return False
    checked = 0
    start: dict[str, Any] | None = None
    while checked < TECHNICIAN_TICKETS_CHECKED:
        entries, start = store.timeline(caller.tenant, customer.id, limit=100, start_key=start)
        for entry in entries:
            if entry.kind != "ticket_opened":
                continue
            checked += 1
            ticket = tickets.find(caller.tenant, entry.ref)
            if ticket is not None and (ticket.dispatch or {}).get("technician") == caller.sub:
                return True
        if start is None:
            break
    return False


def find_customers(
    store: CustomerStore, cfg: TenantConfig, caller: Caller, *, phone: str | None, q: str | None, limit: int
) -> list[Customer]:
    """``GET /customers?phone=|q=``: by phone (any written form), or by name / e-mail prefix. Staff
    only: a technician reaches customers through their tickets."""
    if not is_staff(caller):
        raise NotFound("customer search is for staff; open the customer from your ticket")
    if phone is None and not q:
        raise ValidationFailed(
            "say whom to look for",
            [{"field": "phone", "message": "give phone=<number> or q=<name or e-mail prefix>"}],
        )
    ids: list[str]
    if phone is not None:
        normalised = normalise_phone(phone, cfg.customers.default_country)
        if normalised is None:
            raise ValidationFailed(
                "the phone number is not valid",
                [{"field": "phone", "message": "give a phone number such as +8613800000001 or 13800000001"}],
            )
        ids = list(store.owners(caller.tenant, [f"phone:{normalised}"]).values())
    else:
        ids = store.search(caller.tenant, str(q), limit)
    customers: dict[str, Customer] = {}
    for customer_id in ids:
        customer = live(store, caller.tenant, customer_id)
        customers.setdefault(customer.id, customer)
    return list(customers.values())[:limit]
