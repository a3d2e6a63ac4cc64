"""Multi-party settlement (``shared.domain.shares``, ``catalog.shares``): the parts of a settlement,
their rounding, the ledger lines they give (and give back on a rework) and the file's checks."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.ledger import SettlementRecord, ledger_entries
from shared.domain.shares import Claim, Part, apportion, split

# --------------------------------------------------------------------------- the arithmetic


def test_guide_and_channel_owner_beside_the_installer() -> None:
    # Given 375.00 settled, the installer's 60 % priced at 225.00, a guide's 5 % and an owner's 3 %
    claims = [
        Claim(party="creator", recipient="u-guide", percent=D(5)),
        Claim(party="channel_owner", recipient="u-lin", percent=D(3)),
    ]
    parts = split(D("375.00"), "tech-1", D("225.00"), claims, exponent=2)
    # Then the installer keeps their earnings and each party gets its share of the total
    assert [(p.party, p.recipient, p.amount) for p in parts] == [
        ("installer", "tech-1", D("225.00")),
        ("creator", "u-guide", D("18.75")),
        ("channel_owner", "u-lin", D("11.25")),
    ]


def test_rounding_leftover_goes_to_the_stated_party() -> None:
    # 0.10 × 1/3 each: 0.0333 → 0.03 ×3 = 0.09, but the pool is half-up(0.0999999) = 0.10
    claims = [
        Claim(party=p, recipient=f"u-{i}", percent=D("33.3333"))
        for i, p in enumerate(["creator", "channel_owner", "creator"])
    ]
    parts = split(D("0.10"), "t", D(0), claims, exponent=2, remainder_to="channel_owner")
    amounts = [p.amount for p in parts[1:]]
    assert amounts == [D("0.03"), D("0.04"), D("0.03")]
    assert sum(amounts) == D("0.10")


def test_share_out_of_the_installer_reduces_their_earnings() -> None:
    claims = [Claim(party="creator", recipient="u-guide", percent=D(5), out_of="installer")]
    parts = split(D("375.00"), "tech-1", D("225.00"), claims, exponent=2)
    assert [p.amount for p in parts] == [D("206.25"), D("18.75")]


def test_share_out_of_the_installer_is_capped_at_their_earnings() -> None:
    claims = [Claim(party="creator", recipient="u-guide", percent=D(90), out_of="installer")]
    parts = split(D("100"), "tech-1", D("60.00"), claims, exponent=2)
    assert [p.amount for p in parts] == [D("0.00"), D("60.00")]


def test_region_split_by_coefficient_with_the_leftover_to_the_first_region() -> None:
    parts = split(
        D("100"),
        "tech-1",
        D("100.00"),
        [],
        exponent=2,
        regions=[("SH", D("1.2")), ("JS", D("1.0")), ("ZJ", D("1.0"))],
    )
    assert [(p.region, p.amount) for p in parts] == [
        ("SH", D("37.50")),
        ("JS", D("31.25")),
        ("ZJ", D("31.25")),
    ]
    odd = split(D("1"), "t", D("0.01"), [], exponent=2, regions=[("A", D(1)), ("B", D(1))])
    assert [p.amount for p in odd] == [D("0.00"), D("0.01")]


def test_yen_has_no_minor_unit() -> None:
    claims = [Claim(party="creator", recipient="u", percent=D("2.5"))]
    assert split(D(1001), "t", D(600), claims, exponent=0)[1].amount == D(25)


# --------------------------------------------------------------------------- properties

_money = st.decimals(min_value=0, max_value=D("99999.99"), places=2)
_percent = st.decimals(min_value=0, max_value=100, places=2)
_claims = st.lists(
    st.tuples(
        st.sampled_from(["creator", "channel_owner"]), _percent, st.sampled_from(["total", "installer"])
    ),
    max_size=6,
)


@given(_money, st.decimals(min_value=0, max_value=100, places=2), _claims, st.integers(0, 3))
def test_parts_sum_exactly_never_negative_in_file_order(
    total: D, installer_pct: D, raw: list, exponent: int
) -> None:
    total = total.quantize(D(1).scaleb(-exponent)) if exponent < 2 else total
    earnings = (total * installer_pct / 100).quantize(D(1).scaleb(-exponent))
    claims = [Claim(party=p, recipient=f"u-{i}", percent=pct, out_of=o) for i, (p, pct, o) in enumerate(raw)]
    parts = split(total, "t", earnings, claims, exponent=exponent, remainder_to="channel_owner")
    assert all(p.amount >= 0 for p in parts)
    assert [p.recipient for p in parts[1:]] == [c.recipient for c in claims]
    unit = D(1).scaleb(-exponent)
    beside = [p.amount for p, c in zip(parts[1:], claims, strict=True) if c.out_of == "total"]
    taken = [p.amount for p, c in zip(parts[1:], claims, strict=True) if c.out_of == "installer"]
    pct_total = sum((c.percent for c in claims if c.out_of == "total"), D(0))
    if beside:
        assert sum(beside) == (total * pct_total / 100).quantize(unit, rounding="ROUND_HALF_UP")
    # what the installer side pays (installer + shares out of it) is exactly their earnings
    assert parts[0].amount + sum(taken, D(0)) == earnings


@given(
    st.decimals(min_value=0, max_value=D("99999.99"), places=2),
    st.lists(st.decimals(min_value=D("0.01"), max_value=D("9.99"), places=2), min_size=1, max_size=8),
    st.data(),
)
def test_apportion_sums_exactly_and_is_never_negative(pool: D, weights: list[D], data: st.DataObject) -> None:
    stated = data.draw(st.integers(0, len(weights) - 1))
    parts = apportion(pool, weights, 2, stated)
    assert sum(parts) == pool
    assert all(p >= 0 for p in parts)


# --------------------------------------------------------------------------- ledger lines


def _record(sequence: int, parties: list[Part], total: str = "375.00") -> SettlementRecord:
    at = datetime(2026, 11, 3, 10, tzinfo=UTC)
    return SettlementRecord(
        tenant="acme",
        ticket_id="T1",
        sequence=sequence,
        visit=f"v{sequence}",
        technician=parties[0].recipient,
        period="2026-11",
        completed_at=at,
        settled_at=at,
        settlement={
            "installer_earnings": str(parties[0].amount),
            "total": total,
            "tier": "T1",
            "currency": "CNY",
        },
        groups={},
        parties=parties,
    )


def test_one_line_per_party_and_a_rework_reverses_each() -> None:
    first = _record(
        1,
        [
            Part(party="installer", recipient="tech-1", amount=D("225.00")),
            Part(party="creator", recipient="u-guide", amount=D("18.75")),
        ],
    )
    lines = ledger_entries(first, None)
    assert [(e.technician, e.party, e.amount, e.staff) for e in lines] == [
        ("tech-1", "installer", D("225.00"), False),
        ("u-guide", "creator", D("18.75"), True),
    ]
    # Rework by another technician, and the guide's rule no longer holds
    second = _record(2, [Part(party="installer", recipient="tech-2", amount=D("240.00"))], total="400.00")
    back = ledger_entries(second, first)
    assert [(e.technician, e.party, e.amount) for e in back] == [
        ("tech-1", "installer", D("-225.00")),
        ("u-guide", "creator", D("-18.75")),
        ("tech-2", "installer", D("240.00")),
    ]
    by_recipient: dict[str, D] = {}
    for e in [*lines, *back]:
        by_recipient[e.technician] = by_recipient.get(e.technician, D(0)) + e.amount
    assert by_recipient == {"tech-1": D(0), "u-guide": D(0), "tech-2": D("240.00")}


def test_records_from_before_shares_pay_the_installer_alone() -> None:
    record = _record(1, [Part(party="installer", recipient="tech-1", amount=D("225.00"))]).model_copy(
        update={"parties": []}
    )
    assert [(e.technician, e.amount, e.party) for e in ledger_entries(record, None)] == [
        ("tech-1", D("225.00"), "installer")
    ]


# --------------------------------------------------------------------------- the tenant file


def _validated(catalog: dict[str, Any], channels_owner: str | None = None) -> list[tuple[str, str, str]]:
    from shared.tenant import validate_tenant_data
    from tests.factories import load_example

    data = copy.deepcopy(load_example("acme-home"))
    data["catalog"].update(catalog)
    if channels_owner is not None:
        data["channels"][0]["owner"] = channels_owner
    _, problems = validate_tenant_data(data)
    return [(p.path, p.severity, p.message) for p in problems if p.path.startswith(("catalog", "channels"))]


def test_the_example_with_shares_is_valid() -> None:
    shares = [
        {"party": "creator", "when": {"path": "ticket.channel", "equals": "wecom-service"}, "percent": "5"},
        {"party": "channel_owner", "percent": "3"},
    ]
    problems = _validated({"shares": shares, "region_split": None}, channels_owner="u-lin")
    assert problems == []


def test_share_mistakes_are_named_where_they_are() -> None:
    shares = [
        {"party": "creater", "percent": "5"},
        {"party": "creator", "when": {"path": "ticket.chanel", "equals": "x"}, "percent": "5"},
        {"party": "channel_owner", "percent": "40"},
    ]
    problems = _validated({"shares": shares, "shares_remainder_to": "creator"}, channels_owner="u-nobody")
    text = "\n".join(f"{path} [{severity}] {message}" for path, severity, message in problems)
    assert "did you mean 'creator'" in text  # the party kind
    assert "catalog.shares.1.when" in text and "did you mean 'ticket.channel'" in text
    assert "channels.shopify-main.owner" in text and "u-nobody" in text
    # 85 % for a dealer installer + 45 % beside it
    assert any(p == "catalog.shares" and s == "error" and "more than 100%" in m for p, s, m in problems)


def test_region_split_needs_a_multiselect_field() -> None:
    problems = _validated({"region_split": {"field": "region"}})
    assert [(p, s) for p, s, _ in problems] == [("catalog.region_split.field", "error")]
    assert "multiselect" in problems[0][2]


# --------------------------------------------------------------------------- who the parties are


def _priced(total: str, earnings: str) -> Any:
    from functions.settlement.pricing import Settlement

    return Settlement.model_validate(
        {
            "tier": "T1",
            "lines": [],
            "subtotal": total,
            "surcharges": [],
            "total": total,
            "installer_share_percent": "60",
            "installer_earnings": earnings,
            "catalog_version": "2026-11",
            "currency": "CNY",
        }
    )


def test_parties_of_a_ticket_from_the_tenant_file() -> None:
    from functions.settlement.service import parties
    from shared.domain.ticket import Ticket
    from shared.rules.conditions import Condition
    from shared.tenant.models import TenantConfig
    from shared.tenant.models.settlement import PartyShare, RegionSplit
    from tests.factories import load_example

    cfg = TenantConfig.model_validate(load_example("acme-home"))
    channels = [c.model_copy(update={"owner": "u-zhao"}) if c.id == "web-repair" else c for c in cfg.channels]
    shares = [
        PartyShare(
            party="creator",
            when=Condition.model_validate({"path": "ticket.fields.priority", "equals": "urgent"}),
            percent=D(5),
        ),
        PartyShare(party="channel_owner", percent=D(3)),
    ]
    catalog = cfg.catalog.model_copy(update={"shares": shares, "region_split": RegionSplit(field="regions")})
    cfg = cfg.model_copy(update={"catalog": catalog, "channels": channels})
    at = datetime(2026, 11, 3, tzinfo=UTC)
    ticket = Ticket(
        tenant="acme-home",
        id="T1",
        type="install",
        node="settle",
        fields={"priority": "normal", "regions": ["CN-BJ", "CN-SH", "XX-UNKNOWN", "CN-BJ"]},
        created_at=at,
        updated_at=at,
        created_by="u-lin",
        channel="web-repair",
    )
    coefficients = {r.code: r.coefficient for r in cfg.regions}
    # Given a normal-priority ticket through web-repair (owner u-zhao), spanning Beijing and Shanghai
    paid = parties(cfg, ticket, "t-wang", _priced("375.00", "225.00"))
    # Then the creator rule does not hold, the owner is paid, the installer's earnings split by coefficient
    installer = [p for p in paid if p.party == "installer"]
    assert [p.region for p in installer] == ["CN-BJ", "CN-SH"]
    assert sum(p.amount for p in installer) == D("225.00")
    whole = coefficients["CN-BJ"] + coefficients["CN-SH"]
    assert installer[1].amount == (D("225.00") * coefficients["CN-SH"] / whole).quantize(
        D("0.01"), rounding="ROUND_HALF_UP"
    )
    assert [(p.party, p.recipient, p.amount) for p in paid if p.party != "installer"] == [
        ("channel_owner", "u-zhao", D("11.25"))
    ]
    # And an urgent one pays its creator too; a creator who is no user of the file is paid nothing
    urgent = ticket.model_copy(update={"fields": {"priority": "urgent"}})
    assert [(p.party, p.recipient) for p in parties(cfg, urgent, "t-wang", _priced("375.00", "225.00"))] == [
        ("installer", "t-wang"),
        ("creator", "u-lin"),
        ("channel_owner", "u-zhao"),
    ]
    robot = urgent.model_copy(update={"created_by": "channel:wecom-service"})
    assert [p.party for p in parties(cfg, robot, "t-wang", _priced("375.00", "225.00"))] == [
        "installer",
        "channel_owner",
    ]


def test_two_shares_of_one_party_for_one_user_are_one_line() -> None:
    # two creator rules that both hold: one ledger line (one item key) of their sum
    parts = [
        Part(party="installer", recipient="tech-1", amount=D("200.00")),
        Part(party="creator", recipient="u-guide", amount=D("10.00")),
        Part(party="creator", recipient="u-guide", amount=D("5.00")),
    ]
    lines = ledger_entries(_record(1, parts), None)
    assert [(e.party, e.amount) for e in lines] == [("installer", D("200.00")), ("creator", D("15.00"))]
