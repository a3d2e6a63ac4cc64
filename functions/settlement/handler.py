"""Lambda entry point of the settlement service's earnings and revenue routes (its task: ``tasks.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.settlement import reports
from functions.settlement.schemas import (
    PERIOD_PATTERN,
    EarningsOut,
    GroupBy,
    RevenueOut,
    StaffEarningsOut,
    earnings_out,
    revenue_csv,
    revenue_out,
    staff_earnings_out,
)
from functions.settlement.wiring import deps
from shared.http import current_caller, install_error_handlers, resolve
from shared.observability import logger, metrics, tracer
from shared.tenant.store import tenant_config

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)

PeriodQuery = Annotated[
    str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM (tenant time zone); default: this month")
]


@app.get("/technicians/<technician_id>/earnings")
def earnings(technician_id: str, period: PeriodQuery = None) -> EarningsOut:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    statement = reports.earnings_statement(
        deps(), cfg, caller, technician_id, period or reports.current_period(cfg)
    )
    return earnings_out(statement)


@app.get("/staff/<user_id>/earnings")
def staff_earnings(user_id: str, period: PeriodQuery = None) -> StaffEarningsOut:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    statement = reports.staff_statement(deps(), cfg, caller, user_id, period or reports.current_period(cfg))
    return staff_earnings_out(statement)


@app.get("/reports/revenue")
def revenue(
    group_by: Annotated[
        GroupBy,
        Query(description="tier, region, tier_region (keys <tier>|<region>), item, ticket_type or channel"),
    ],
    period: PeriodQuery = None,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json (default) or csv")] = "json",
) -> Response[Any]:
    caller = current_caller(app)
    cfg = tenant_config(caller.tenant)
    report = reports.revenue_report(deps(), cfg, caller, period or reports.current_period(cfg), group_by)
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
    return resolve(app, event, context)
