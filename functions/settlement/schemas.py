"""API output models of the settlement service (separate from the domain and stored models).

Every model is ``defer_build``: its validator and serializer are built when a request first uses
it (powertools builds a route's models when the route is first resolved), not at the cold start.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.settlement.currency import minor_unit
from functions.settlement.reports import RevenueReport, Statement

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
GroupBy = Literal["tier", "region", "item", "ticket_type", "channel"]
Money = Annotated[str, Field(description="decimal string, e.g. '240.00'", examples=["240.00"])]


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


class EarningsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    technician: str
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


def money(value: Decimal, currency: str) -> str:
    """A decimal string to the currency's minor unit ("375.00"; DynamoDB gives numbers back as "375")."""
    return f"{value.quantize(Decimal(1).scaleb(-minor_unit(currency))):f}"


def earnings_out(statement: Statement) -> EarningsOut:
    return EarningsOut(
        technician=statement.technician,
        period=statement.period,
        currency=statement.currency,
        lines=[
            EarningsLineOut(
                ticket_id=line.ticket_id,
                sequence=line.sequence,
                kind=line.kind,
                completed_at=line.completed_at,
                settled_at=line.settled_at,
                tier=line.tier,
                amount=money(line.amount, statement.currency),
                ticket_total=money(line.ticket_total, statement.currency),
            )
            for line in statement.lines
        ],
        total=money(statement.total, statement.currency),
    )


def revenue_out(report: RevenueReport) -> RevenueOut:
    return RevenueOut(
        period=report.period,
        group_by=report.group_by,
        currency=report.currency,
        groups=[
            RevenueGroupOut(
                key=g.key,
                total=money(g.total, report.currency),
                earnings=money(g.earnings, report.currency),
                count=g.count,
            )
            for g in report.groups
        ],
        total=money(report.total, report.currency),
        earnings=money(report.earnings, report.currency),
    )


def revenue_csv(report: RevenueReport) -> str:
    """The report as CSV: a header row, one row per group (no totals row: sum the column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period", "group_by", "key", "currency", "total", "earnings", "count"])
    for g in report.groups:
        writer.writerow(
            [
                report.period,
                report.group_by,
                g.key,
                report.currency,
                money(g.total, report.currency),
                money(g.earnings, report.currency),
                g.count,
            ]
        )
    return out.getvalue()
