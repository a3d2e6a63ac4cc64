"""API output models of the settlement service (separate from the domain and stored models).

Every model is ``defer_build``: its validator and serializer are built when a request first uses
it (powertools builds a route's models when the route is first resolved), not at the cold start.

The answers are read from the report's attributes (``from_attributes``); a ``Money`` field turns the
domain's ``Decimal`` into a decimal string to the minor unit of the currency given as context.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from functions.settlement.currency import minor_unit
from functions.settlement.reports import RevenueReport, Statement
from shared.domain.ledger import GroupBy

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def money(value: Decimal, currency: str) -> str:
    """A decimal string to the currency's minor unit ("375.00"; DynamoDB gives numbers back as "375")."""
    return f"{value.quantize(Decimal(1).scaleb(-minor_unit(currency))):f}"


def _in_minor_units(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, Decimal) and info.context is not None:
        return money(value, info.context["currency"])
    return value


Money = Annotated[
    str,
    BeforeValidator(_in_minor_units),
    Field(description="decimal string, e.g. '240.00'", examples=["240.00"]),
]


class EarningsLineOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    ticket_id: str
    sequence: int = Field(description="1 for the settlement, 2+ for rework adjustments")
    kind: Literal["settlement", "adjustment"]
    completed_at: datetime
    settled_at: datetime
    tier: str
    amount: Money = Field(description="earned (an adjustment: the difference)")
    ticket_total: Money
    party: str = Field(
        default="installer", description="installer, or the share's party: creator, channel_owner"
    )
    region: str | None = Field(default=None, description="a job split over regions: this line's region")


class EarningsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    technician: str
    period: str
    currency: str
    lines: list[EarningsLineOut]
    total: Money


class StaffEarningsOut(BaseModel):
    """A user's statement of shares (e.g. a shopping guide's, 导购提成)."""

    model_config = ConfigDict(defer_build=True)

    user: str
    period: str
    currency: str
    lines: list[EarningsLineOut]
    total: Money


class RevenueGroupOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    key: str
    total: Money
    earnings: Money
    count: int = Field(description="tickets settled in the group")


class RevenueOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    period: str
    group_by: GroupBy
    currency: str
    groups: list[RevenueGroupOut]
    total: Money
    earnings: Money


_Out = TypeVar("_Out", bound=BaseModel)


def _answer(model: type[_Out], report: Statement | RevenueReport) -> _Out:
    return model.model_validate(report, from_attributes=True, context={"currency": report.currency})


def earnings_out(statement: Statement) -> EarningsOut:
    return _answer(EarningsOut, statement)


def staff_earnings_out(statement: Statement) -> StaffEarningsOut:
    return _answer(StaffEarningsOut, statement)


def revenue_out(report: RevenueReport) -> RevenueOut:
    return _answer(RevenueOut, report)


def revenue_csv(report: RevenueReport) -> str:
    """The report as CSV: a header row, one row per group (no totals row: sum the column)."""
    body = revenue_out(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period", "group_by", "key", "currency", "total", "earnings", "count"])
    for g in body.groups:
        writer.writerow([body.period, body.group_by, g.key, body.currency, g.total, g.earnings, g.count])
    return out.getvalue()
