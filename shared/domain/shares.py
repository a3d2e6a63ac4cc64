"""Who is paid what of one settlement: the installer and the other parties of ``catalog.shares``
(the ticket's creator, e.g. the shopping guide 导购 who took the order; the channel's owner), and
the installer's earnings split over the regions of a job that spans several.

Pure arithmetic on ``Decimal``; the settlement service (``functions/settlement/service.py``) decides
which rules hold and who the recipients are, and the ledger (``shared.domain.ledger``) writes one
line per part.

Rounding: every part is rounded half-up to the currency's minor unit, but the parts must add up to
exactly what is shared, or the ledger and the statements would drift from the settlement by a cent
per ticket. So a pool is rounded once, each part but one is its rounded exact amount (never more
than what is left of the pool, so nothing goes negative when several parts round up), and the part
the file names (``remainder_to``) takes what is left. The file's order is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INSTALLER = "installer"
HUNDRED = Decimal(100)


class Claim(BaseModel):
    """A party's claim on a settlement, once its rule held and its recipient is known."""

    model_config = ConfigDict(frozen=True)

    party: str
    """The party kind (``creator``, ``channel_owner``)."""
    recipient: str
    """Who is paid: a user id."""
    percent: Decimal = Field(ge=0, le=100)
    out_of: Literal["total", "installer"] = "total"


class Part(BaseModel):
    """One party's part of a settlement: one ledger line."""

    model_config = ConfigDict(frozen=True)

    party: str
    """``installer`` or a party kind of ``catalog.shares``."""
    recipient: str
    """The technician (installer) or user paid."""
    amount: Decimal
    region: str | None = None
    """For an installer's part of a job split over regions: which region's part."""

    @property
    def key(self) -> tuple[str, str, str | None]:
        """What identifies the part across a rework (its ledger line)."""
        return (self.party, self.recipient, self.region)


def quantize(amount: Decimal, exponent: int) -> Decimal:
    """Half-up to ``exponent`` decimals (the currency's minor unit)."""
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)


def apportion(pool: Decimal, weights: Sequence[Decimal], exponent: int, remainder_to: int) -> list[Decimal]:
    """``pool`` (already in minor units) split by ``weights``: each part half-up of its exact
    amount, never more than what is left; the part at ``remainder_to`` takes the rest, so the parts
    sum to ``pool`` exactly and none is negative (for a pool and weights that are not negative)."""
    if not weights:
        return []
    whole = sum(weights, Decimal(0))
    if whole <= 0:
        out = [Decimal(0)] * len(weights)
        out[remainder_to] = pool
        return out
    parts = [Decimal(0)] * len(weights)
    left = pool
    for index, weight in enumerate(weights):
        if index == remainder_to:
            continue
        parts[index] = min(quantize(pool * weight / whole, exponent), left)
        left -= parts[index]
    parts[remainder_to] = left
    return parts


def split(
    total: Decimal,
    installer: str,
    installer_earnings: Decimal,
    claims: Sequence[Claim],
    *,
    exponent: int,
    remainder_to: str | None = None,
    regions: Sequence[tuple[str, Decimal]] = (),
    region_remainder: Literal["first", "last"] = "first",
) -> list[Part]:
    """The parts of a settlement of ``total``: the installer's (``installer_earnings`` as priced,
    less what the claims ``out_of: installer`` take, split over ``regions`` by weight when there are
    two or more) first, then one per claim in file order.

    The claims out of the total share the pool ``half-up(total × Σ percent / 100)``; the claims out
    of the installer's earnings share ``half-up(total × Σ percent / 100)`` capped at those earnings.
    In each pool the minor units rounding leaves go to the claim of party ``remainder_to`` (the
    first claim of the pool when no claim has that party)."""
    parts_of: dict[int, Decimal] = {}
    taken = Decimal(0)
    for out_of in ("installer", "total"):
        members = [i for i, c in enumerate(claims) if c.out_of == out_of]
        if not members:
            continue
        percents = [claims[i].percent for i in members]
        pool = quantize(total * sum(percents, Decimal(0)) / HUNDRED, exponent)
        if out_of == "installer":
            pool = max(min(pool, installer_earnings), Decimal(0))
            taken = pool
        stated = next((n for n, i in enumerate(members) if claims[i].party == remainder_to), 0)
        for i, amount in zip(members, apportion(pool, percents, exponent, stated), strict=True):
            parts_of[i] = amount
    kept = installer_earnings - taken
    if len(regions) > 1:
        last = len(regions) - 1 if region_remainder == "last" else 0
        amounts = apportion(kept, [w for _, w in regions], exponent, last)
        out = [
            Part(party=INSTALLER, recipient=installer, amount=a, region=code)
            for (code, _), a in zip(regions, amounts, strict=True)
        ]
    else:
        out = [Part(party=INSTALLER, recipient=installer, amount=kept)]
    out.extend(
        Part(party=claim.party, recipient=claim.recipient, amount=parts_of[i])
        for i, claim in enumerate(claims)
    )
    return out
