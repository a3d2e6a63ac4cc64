"""Customers on moto's DynamoDB: one customer per phone under concurrency, merges that survive
retries, deliveries counted once, the timeline paged oldest first."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.ticket import customers as use_case
from functions.ticket.customers import BuyerHints
from shared.clock import install, reset
from shared.domain.customer import TimelineEntry, merged, survivor
from shared.errors import ValidationFailed
from shared.repositories.customers import CustomerRepository
from shared.tenant.loader import load_tenant_file
from shared.tenant.models import TenantConfig

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PHONE = "+8613900000077"
NUMBERS = itertools.count(1000)
"""Distinct numbers per hypothesis example (hypothesis seeds ``random`` the same for each)."""


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant_file("examples/tenants/acme-home.yaml")


@pytest.fixture(autouse=True)
def _clock() -> object:
    ticks = iter(T0 + timedelta(seconds=n) for n in range(100_000))
    install(lambda: next(ticks))
    yield
    reset()


def order(
    channel: str, delivery_id: str, buyer: str | None, total: str | None, minutes: int = 0
) -> BuyerHints:
    platform = "wecom" if channel.startswith("wecom") else "shopify"
    return BuyerHints(
        channel=channel,
        platform=platform,
        delivery_id=delivery_id,
        received_at=T0 + timedelta(minutes=minutes),
        buyer_key=f"{platform}:{buyer}" if buyer else None,
        order_total=Decimal(total) if total else None,
    )


def form(phone: str | None = PHONE, name: str = "林女士") -> dict[str, str]:
    return {"customer_name": name, **({"customer_phone": phone} if phone else {})}


@pytest.mark.usefixtures("aws")
def test_concurrent_creations_for_one_phone_make_one_customer(acme: TenantConfig) -> None:
    # Given eight tickets for the same number, written three ways, created at once
    store = CustomerRepository()
    spellings = [PHONE, "13900000077", "+86 139-0000-0077", "0086 139 0000 0077"] * 2

    def create(phone: str) -> str | None:
        return use_case.resolve(store, acme, "install", form(phone))

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, spellings))
    # Then they all name one customer, which holds the normalised number once
    assert len(set(ids)) == 1 and ids[0] is not None
    assert store.owners("acme-home", [f"phone:{PHONE}"]) == {f"phone:{PHONE}": ids[0]}
    assert store.get("acme-home", ids[0]).phones == [PHONE]


@pytest.mark.usefixtures("aws")
def test_a_replayed_delivery_counts_its_order_once(acme: TenantConfig) -> None:
    store = CustomerRepository()
    from tests import factories

    hints = order("shopify-main", "d-1", "9001", "3999.00")
    customer_id = use_case.resolve(store, acme, "install", form(), hints)
    ticket = factories.ticket("TK-A", at=T0, ticket_type="install").model_copy(
        update={"customer_id": customer_id, "channel": "shopify-main"}
    )
    for _ in range(3):  # intake redelivers the same message
        use_case.record_ticket(store, acme, ticket, hints)
    assert customer_id is not None
    customer = store.get("acme-home", customer_id)
    assert (customer.orders, customer.tickets, customer.lifetime_value) == (1, 1, Decimal("3999.00"))
    assert customer.tier == "regular"  # the tenant's rules: an order, under 5000
    # a second order lifts the lifetime value over the VIP line
    second = order("shopify-main", "d-2", "9001", "1500.50", minutes=5)
    ticket2 = ticket.model_copy(update={"id": "TK-B", "created_at": T0 + timedelta(minutes=5)})
    use_case.record_ticket(store, acme, ticket2, second)
    customer = store.get("acme-home", customer_id)
    assert (customer.orders, customer.lifetime_value, customer.tier) == (2, Decimal("5499.50"), "VIP")


@pytest.mark.usefixtures("aws")
def test_a_delivery_linking_two_customers_merges_them_once(acme: TenantConfig) -> None:
    from tests import factories

    store = CustomerRepository()
    # Given a customer known by phone (a form) and one known by a Shopify buyer id (an order)
    by_phone = use_case.resolve(store, acme, "install", form())
    shop_hints = order("shopify-main", "d-7", "77", "100.00", minutes=1)
    by_shop = use_case.resolve(store, acme, "install", form(phone=None, name="Lin"), shop_hints)
    assert by_phone and by_shop and by_phone != by_shop
    for ticket_id, cid, hints in (("TK-1", by_phone, None), ("TK-2", by_shop, shop_hints)):
        ticket = factories.ticket(ticket_id, at=T0, ticket_type="install").model_copy(
            update={"customer_id": cid}
        )
        use_case.record_ticket(store, acme, ticket, hints)
    before = {e.ref for cid in (by_phone, by_shop) for e in store.all_timeline("acme-home", cid)}
    # When a later delivery carries both the phone and the buyer id
    linking = order("shopify-main", "d-8", "77", None, minutes=2)
    survivor_id = use_case.resolve(store, acme, "install", form(), linking)
    # Then the older customer survives with both timelines and the counters of both
    assert survivor_id == by_phone
    loser = store.get("acme-home", by_shop)
    assert loser.merged_into == by_phone
    keeper = store.get("acme-home", by_phone)
    assert {e.ref for e in store.all_timeline("acme-home", by_phone)} == before
    assert (keeper.tickets, keeper.orders, keeper.lifetime_value) == (2, 1, Decimal("100.00"))
    assert set(keeper.platform_ids) == {"shopify:77"} and keeper.merged_from == [by_shop]
    # And a retried merge (the same call again, or resolving again) changes nothing
    store.merge(keeper, loser, merged(keeper, loser, T0), T0)
    assert use_case.resolve(store, acme, "install", form(), linking) == by_phone
    again = store.get("acme-home", by_phone)
    assert (again.tickets, again.orders, again.lifetime_value) == (2, 1, Decimal("100.00"))
    assert store.owners("acme-home", ["shopify:77"]) == {"shopify:77": by_phone}


@pytest.mark.usefixtures("aws")
def test_an_interrupted_merge_is_completed_by_the_next_resolution(acme: TenantConfig) -> None:
    store = CustomerRepository()
    a = use_case.resolve(store, acme, "install", form())
    b = use_case.resolve(store, acme, "install", form(phone=None), order("shopify-main", "d-1", "5", None))
    assert a and b
    store.record("acme-home", b, TimelineEntry(at=T0, kind="ticket_opened", ref="TK-B"), tickets=1)
    keeper, loser = store.get("acme-home", a), store.get("acme-home", b)

    # the merge crashed after its first step: the loser is marked, nothing copied or re-pointed
    class Crash(Exception):
        pass

    original = store.all_timeline

    def crash(*_args: object) -> list[TimelineEntry]:
        raise Crash

    store.all_timeline = crash  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        store.merge(keeper, loser, merged(keeper, loser, T0), T0)
    store.all_timeline = original  # type: ignore[method-assign]
    assert store.owners("acme-home", ["shopify:5"]) == {"shopify:5": b}  # still the loser's
    # the buyer's next order resolves through the loser and finishes the merge
    assert use_case.resolve(store, acme, "install", {}, order("shopify-main", "d-2", "5", None)) == a
    assert store.owners("acme-home", ["shopify:5"]) == {"shopify:5": a}
    assert [e.ref for e in store.all_timeline("acme-home", a)] == ["TK-B"]
    assert store.get("acme-home", a).tickets == 1


@pytest.mark.usefixtures("aws")
def test_the_timeline_pages_oldest_first_with_a_cursor_bound_to_the_customer(acme: TenantConfig) -> None:
    from shared.cursors import decode_cursor, encode_cursor

    store = CustomerRepository()
    cid = use_case.resolve(store, acme, "install", form())
    other = use_case.resolve(store, acme, "install", form(phone="+8613900000078"))
    assert cid and other
    for n in (4, 0, 6, 2, 1, 5, 3):  # written out of order
        store.record(
            "acme-home", cid, TimelineEntry(at=T0 + timedelta(hours=n), kind="ticket_opened", ref=f"TK-{n}")
        )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        entries, more = store.timeline(
            "acme-home", cid, limit=3, start_key=decode_cursor(cursor, "acme-home")
        )
        seen += [e.ref for e in entries]
        pages += 1
        cursor = encode_cursor(more, "acme-home")
        if cursor is None:
            break
    assert seen == [f"TK-{n}" for n in range(7)] and pages == 3
    _, more = store.timeline("acme-home", cid, limit=3)
    with pytest.raises(ValidationFailed):
        store.timeline("acme-home", other, limit=3, start_key=more)  # another customer's position


@pytest.mark.usefixtures("aws")
def test_search_by_name_or_email_prefix(acme: TenantConfig) -> None:
    store = CustomerRepository()
    cid = use_case.resolve(store, acme, "install", form(name="Wang Fang"))
    assert cid
    assert store.search("acme-home", "wang") == [cid]
    assert store.search("acme-home", "WANG F") == [cid]
    assert store.search("acme-home", "li") == []
    assert store.search("other-tenant", "wang") == []


@pytest.mark.usefixtures("aws")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(0, 500), max_size=8, unique=True),
    st.lists(st.integers(0, 500), max_size=8, unique=True),
    st.booleans(),
)
def test_a_merged_customers_timeline_is_the_union_of_both(
    acme: TenantConfig, mine: list[int], theirs: list[int], retried: bool
) -> None:
    store = CustomerRepository()
    tenant = acme.tenant.id
    a = use_case.resolve(store, acme, "install", form(phone=f"+861390{next(NUMBERS):07d}"))
    b = use_case.resolve(store, acme, "install", form(phone=f"+861380{next(NUMBERS):07d}"))
    assert a and b and a != b
    for cid, minutes in ((a, mine), (b, theirs)):
        for n in minutes:
            at = T0 + timedelta(minutes=n)
            store.record(tenant, cid, TimelineEntry(at=at, kind="ticket_opened", ref=f"{cid}-{n}"), tickets=1)
    expected = sorted(
        [(T0 + timedelta(minutes=n), f"{a}-{n}") for n in mine]
        + [(T0 + timedelta(minutes=n), f"{b}-{n}") for n in theirs]
    )
    keeper, loser = survivor(store.get(tenant, a), store.get(tenant, b))
    store.merge(keeper, loser, merged(keeper, loser, T0), T0)
    if retried:  # the same merge again, as a retried invocation would run it
        store.merge(store.get(tenant, keeper.id), store.get(tenant, loser.id), merged(keeper, loser, T0), T0)
    assert [(e.at, e.ref) for e in store.all_timeline(tenant, keeper.id)] == expected
    assert store.get(tenant, keeper.id).tickets == len(mine) + len(theirs)
