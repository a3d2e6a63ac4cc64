"""The catalogue of the metrics the functions emit: names, units, dimensions. One source of truth.

Every emission goes through ``shared.observability.emit_metric(<catalogue entry>, value, **dims)``,
which checks the dimensions against the entry; the dashboards (``infra/constructs/observability.py``
and the twin's ``/_local/dashboard``) are built from these entries, and an infra test checks that
each metric a dashboard shows is emitted somewhere in the code.

All metrics are in namespace ``Scrm`` (powertools EMF, one line per emission). Each metric has
exactly one dimension set (so CloudWatch Metrics Insights ``SCHEMA(...)`` and the twin agree), and
every set starts with ``tenant``. Dimension vocabulary:

| dimension | values |
|---|---|
| ``tenant`` | tenant id |
| ``channel`` | intake channel id (``api`` for tickets created through ``POST /tickets``) |
| ``ticket_type`` | ticket type id |
| ``node`` | workflow node name |
| ``level`` | SLA level name |
| ``tier`` | price-list tier of a settlement |
| ``region`` | region id of a settled ticket |
| ``outcome`` | dispatch outcome: ``assigned``, ``no_candidate``, ``offer_expired`` |
| ``reason`` | why a delivery was refused (the error code answered: ``bad_signature``, ...) |
| ``kind`` | an opportunity's kind (the tenant rule's ``kind``: ``extended_warranty``, ...) |
| ``stage`` | the pipeline stage an opportunity reached: ``new`` (opened), ``won``, ``lost`` |

Money (``Revenue``, ``InstallerEarnings``, ``OpportunityAmount``) is in the tenant's currency, unit
``None``: a float in the metric only, ``Decimal`` everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

NAMESPACE = "Scrm"

COUNT = "Count"
MILLISECONDS = "Milliseconds"
NO_UNIT = "None"

DIMENSIONS = (
    "tenant", "channel", "ticket_type", "node", "level", "tier", "region", "outcome", "reason",
    "kind", "stage",
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    dimensions: tuple[str, ...]
    service: str
    """The service whose functions emit it."""
    description: str

    def __post_init__(self) -> None:
        if not self.dimensions or self.dimensions[0] != "tenant":
            raise ValueError(f"{self.name}: the first dimension of every metric is tenant")
        unknown = set(self.dimensions) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"{self.name}: unknown dimension(s) {sorted(unknown)}")


# ------------------------------------------------------------------ intake (webhooks, forms)
DELIVERIES_RECEIVED = Metric(
    "DeliveriesReceived", COUNT, ("tenant", "channel"), "webhooks",
    "verified deliveries and web forms recorded and queued (first time)",
)  # fmt: skip
DELIVERIES_DUPLICATE = Metric(
    "DeliveriesDuplicate", COUNT, ("tenant", "channel"), "webhooks",
    "deliveries or forms already recorded (a platform's retry, a repeated Idempotency-Key)",
)  # fmt: skip
DELIVERIES_REFUSED = Metric(
    "DeliveriesRefused", COUNT, ("tenant", "channel", "reason"), "webhooks",
    "deliveries and forms answered 4xx (bad signature, malformed, too large, invalid form)",
)  # fmt: skip
DELIVERIES_REPLAYED = Metric(
    "DeliveriesReplayed", COUNT, ("tenant", "channel"), "webhooks", "deliveries queued again by ops",
)  # fmt: skip
DELIVERIES_REDRIVEN = Metric(
    "DeliveriesRedriven", COUNT, ("tenant",), "webhooks", "messages moved from the intake DLQ back by ops",
)  # fmt: skip

# ------------------------------------------------------------------ tickets
TICKETS_CREATED = Metric(
    "TicketsCreated", COUNT, ("tenant", "ticket_type", "channel"), "ticket",
    "tickets created through the API and by the intake consumer (not linked tickets of create_ticket nodes)",
)  # fmt: skip
TICKETS_CLOSED = Metric(
    "TicketsClosed", COUNT, ("tenant", "ticket_type"), "ticket", "tickets that reached an end node",
)  # fmt: skip
ACTIONS_TAKEN = Metric(
    "ActionsTaken", COUNT, ("tenant", "ticket_type", "node"), "ticket",
    "actions taken on human nodes (node: where the ticket went)",
)  # fmt: skip
TICKETS_FAILED = Metric(
    "TicketsFailed", COUNT, ("tenant", "node"), "ticket",
    "tickets marked failed (loop limit, no technician, settlement that cannot be priced)",
)  # fmt: skip
OPEN_TICKETS = Metric(
    "OpenTickets", COUNT, ("tenant", "ticket_type", "node"), "ticket",
    "gauge: open tickets at each node of each type (0 for an empty node), every 5 minutes per tenant "
    "by scrm-ticket-gauges from the open-tickets index",
)  # fmt: skip

# ------------------------------------------------------------------ dispatch
DISPATCH_OUTCOME = Metric(
    "DispatchOutcome", COUNT, ("tenant", "node", "outcome"), "dispatch",
    "dispatch decisions: assigned, no_candidate, offer_expired",
)  # fmt: skip
DISPATCH_LATENCY = Metric(
    "DispatchLatency", MILLISECONDS, ("tenant", "node"), "dispatch",
    "time the dispatch task took to score and assign",
)  # fmt: skip

# ------------------------------------------------------------------ opportunities (issue 17)
OPPORTUNITIES = Metric(
    "Opportunities", COUNT, ("tenant", "kind", "stage"), "ticket",
    "opportunities reaching a stage of the pipeline: new (opened by a rule), won, lost",
)  # fmt: skip
OPPORTUNITY_AMOUNT = Metric(
    "OpportunityAmount", NO_UNIT, ("tenant", "kind", "stage"), "ticket",
    "the amounts of those opportunities, tenant currency",
)  # fmt: skip

# ------------------------------------------------------------------ settlement
TICKETS_SETTLED = Metric(
    "TicketsSettled", COUNT, ("tenant", "tier", "region"), "settlement", "first settlements of tickets",
)  # fmt: skip
SETTLEMENT_ADJUSTMENTS = Metric(
    "SettlementAdjustments", COUNT, ("tenant", "tier", "region"), "settlement",
    "rework settlements (adjustment records)",
)  # fmt: skip
REVENUE = Metric(
    "Revenue", NO_UNIT, ("tenant", "tier", "region"), "settlement",
    "settled ticket totals (adjustments as deltas), tenant currency",
)  # fmt: skip
INSTALLER_EARNINGS = Metric(
    "InstallerEarnings", NO_UNIT, ("tenant", "tier", "region"), "settlement",
    "installer earnings of settled tickets (adjustments as deltas), tenant currency",
)  # fmt: skip

# ------------------------------------------------------------------ SLA reminders
SLA_REMINDERS_SENT = Metric(
    "SlaRemindersSent", COUNT, ("tenant", "node", "level"), "reminders",
    "SLA reminder messages sent (one per recipient and channel)",
)  # fmt: skip
SLA_BREACHES = Metric(
    "SlaBreaches", COUNT, ("tenant", "node", "level"), "reminders",
    "tickets whose SLA breached (the last level fired, first time)",
)  # fmt: skip

CATALOGUE: tuple[Metric, ...] = (
    DELIVERIES_RECEIVED,
    DELIVERIES_DUPLICATE,
    DELIVERIES_REFUSED,
    DELIVERIES_REPLAYED,
    DELIVERIES_REDRIVEN,
    TICKETS_CREATED,
    TICKETS_CLOSED,
    ACTIONS_TAKEN,
    TICKETS_FAILED,
    OPEN_TICKETS,
    DISPATCH_OUTCOME,
    DISPATCH_LATENCY,
    OPPORTUNITIES,
    OPPORTUNITY_AMOUNT,
    TICKETS_SETTLED,
    SETTLEMENT_ADJUSTMENTS,
    REVENUE,
    INSTALLER_EARNINGS,
    SLA_REMINDERS_SENT,
    SLA_BREACHES,
)
BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}


def catalogue_table() -> str:
    """The catalogue as a Markdown table (for docs and ``scrm report``)."""
    rows = ["| metric | unit | dimensions | service | what |", "|---|---|---|---|---|"]
    rows += [
        f"| {m.name} | {m.unit} | {', '.join(m.dimensions)} | {m.service} | {m.description} |"
        for m in CATALOGUE
    ]
    return "\n".join(rows)
