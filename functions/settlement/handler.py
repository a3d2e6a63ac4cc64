"""Lambda entry points of the settlement service: earnings and revenue routes, the settlement task."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.settlement import service
from functions.settlement.pricing import PricingError
from functions.settlement.schemas import (
    PERIOD_PATTERN,
    EarningsOut,
    GroupBy,
    RevenueOut,
    earnings_out,
    revenue_csv,
    revenue_out,
)
from shared import metrics as catalogue
from shared.http import current_caller, install_error_handlers
from shared.observability import emit_metric, logger, metrics, tracer
from shared.repositories.catalogs import CatalogRepository
from shared.repositories.ledger import LedgerRepository
from shared.repositories.tickets import TicketRepository
from shared.tenant.store import tenant_config
from shared.workflow.task_errors import SettlementFailed

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)

_deps: service.Deps | None = None

PeriodQuery = Annotated[
    str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM (tenant time zone); default: this month")
]


def deps() -> service.Deps:
    global _deps
    if _deps is None:
        _deps = service.Deps(
            tickets=TicketRepository(), ledger=LedgerRepository(), catalogs=CatalogRepository()
        )
    return _deps


@app.get("/technicians/<technician_id>/earnings")
def earnings(technician_id: str, period: PeriodQuery = None) -> EarningsOut:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    statement = service.earnings_statement(
        deps(), cfg, caller, technician_id, period or service.current_period(cfg)
    )
    return earnings_out(statement)


@app.get("/reports/revenue")
def revenue(
    group_by: Annotated[GroupBy, Query(description="tier, region, item, ticket_type or channel")],
    period: PeriodQuery = None,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json (default) or csv")] = "json",
) -> Response[Any]:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    report = service.revenue_report(deps(), cfg, caller, period or service.current_period(cfg), group_by)
    if format == "csv":
        filename = f"revenue-{report.period}-{report.group_by}.csv"
        return Response(
            status_code=200,
            content_type="text/csv; charset=utf-8",
            body=revenue_csv(report),
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    body: RevenueOut = revenue_out(report)
    return Response(status_code=200, content_type="application/json", body=body.model_dump(mode="json"))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def settle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Task of a ``settlement`` node: price, record (idempotently), show on the ticket."""
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event["node"])
    try:
        settled = service.settle(deps(), cfg, event["ticket_id"], event["node"])
    except PricingError as exc:
        logger.error("settlement failed", extra={"reason": exc.message})
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=cfg.tenant.id, node=event["node"])
        raise SettlementFailed(exc.message) from None
    record = settled.record
    logger.info(
        "settled",
        extra={
            "sequence": record.sequence,
            "new_record": settled.created,
            "total": record.settlement["total"],
        },
    )
    if settled.created:
        _emit(cfg.tenant.id, record)
    return {"outcome": "done", "sequence": record.sequence}


def _emit(tenant: str, record: Any) -> None:
    """EMF metrics for the dashboards (floats only here: money stays Decimal everywhere else)."""
    adjustment = record.adjustment
    total = adjustment["total"] if adjustment else record.settlement["total"]
    earnings = adjustment["installer_earnings"] if adjustment else record.settlement["installer_earnings"]
    dims = {"tenant": tenant, "tier": str(record.settlement.get("tier")), "region": _group(record, "region")}
    emit_metric(catalogue.SETTLEMENT_ADJUSTMENTS if adjustment else catalogue.TICKETS_SETTLED, 1, **dims)
    emit_metric(catalogue.REVENUE, float(total), **dims)
    emit_metric(catalogue.INSTALLER_EARNINGS, float(earnings), **dims)


def _group(record: Any, group_by: str) -> str:
    """The record's key of one revenue grouping (``region#<id>`` -> ``<id>``)."""
    prefix = f"{group_by}#"
    return next((key[len(prefix) :] for key in record.groups if key.startswith(prefix)), "none")
