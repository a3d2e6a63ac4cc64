"""`dispatch` (`DispatchConfig`: the weights of the scoring factors, the distance limit and
the offer timeout)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from pydantic import Field, field_validator

from shared.tenant.models.amounts import PositiveDecimal, Weight
from shared.tenant.models.base import _Model, did_you_mean
from shared.tenant.models.times import Duration, parse_duration

DISPATCH_FACTORS: tuple[str, ...] = ("distance", "skill", "load", "rating", "fairness")


def _default_weights() -> dict[str, Decimal]:
    return {
        "distance": Decimal("0.35"),
        "skill": Decimal("0.25"),
        "load": Decimal("0.20"),
        "rating": Decimal("0.10"),
        "fairness": Decimal("0.10"),
    }


class DispatchConfig(_Model):
    weights: dict[str, Weight] = Field(default_factory=_default_weights)
    max_distance_km: PositiveDecimal = Decimal(80)
    offer_timeout: Duration = "30m"

    @field_validator("weights")
    @classmethod
    def _known_factors(cls, weights: dict[str, Decimal]) -> dict[str, Decimal]:
        for name in weights:
            if name not in DISPATCH_FACTORS:
                raise ValueError(
                    f"unknown dispatch factor {name!r}{did_you_mean(name, DISPATCH_FACTORS)}; "
                    f"use {', '.join(DISPATCH_FACTORS)}"
                )
        return weights

    @property
    def offer_timeout_delta(self) -> timedelta:
        return parse_duration(self.offer_timeout)
