"""Lambda entry point of the settlement node's task, apart from the HTTP API (``handler.py``).

It never loads the HTTP resolver, its request validation or the API schemas, so its cold start
stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.settlement import service
from functions.settlement.pricing import PricingError
from functions.settlement.wiring import deps
from shared import metrics as catalogue
from shared.errors import Conflict, Unavailable
from shared.observability import emit_metric, logger, metrics, tracer
from shared.tenant.store import tenant_config
from shared.workflow.task_errors import ConflictError, SettlementFailed, UnavailableError, check_resume

if TYPE_CHECKING:
    from shared.domain.ledger import SettlementRecord


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def settle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Task of a ``settlement`` node: price, record (idempotently), show on the ticket."""
    cfg = tenant_config(event["tenant"])
    logger.append_keys(ticket_id=event["ticket_id"], node=event["node"])
    check_resume(event, cfg)
    try:
        settled = service.settle(deps(), cfg, event["ticket_id"], event["node"])
    except PricingError as exc:
        logger.error("settlement failed", extra={"reason": exc.message})
        emit_metric(catalogue.TICKETS_FAILED, 1, tenant=cfg.tenant.id, node=event["node"])
        raise SettlementFailed(exc.message) from None
    except Conflict as exc:  # the Task's Retry sends it again (shared/workflow/compiler.py)
        logger.warning("settlement met another writer; the workflow retries", extra={"reason": exc.message})
        raise ConflictError(exc.message) from None
    except Unavailable as exc:
        logger.warning("settlement store busy; the workflow retries", extra={"reason": exc.message})
        raise UnavailableError(exc.message) from None
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


def _emit(tenant: str, record: SettlementRecord) -> None:
    """EMF metrics for the dashboards (floats only here: money stays Decimal everywhere else)."""
    adjustment = record.adjustment
    total = adjustment["total"] if adjustment else record.settlement["total"]
    earnings = adjustment["installer_earnings"] if adjustment else record.settlement["installer_earnings"]
    dims = {"tenant": tenant, "tier": str(record.settlement.get("tier")), "region": _group(record, "region")}
    emit_metric(catalogue.SETTLEMENT_ADJUSTMENTS if adjustment else catalogue.TICKETS_SETTLED, 1, **dims)
    emit_metric(catalogue.REVENUE, float(total), **dims)
    emit_metric(catalogue.INSTALLER_EARNINGS, float(earnings), **dims)


def _group(record: SettlementRecord, group_by: str) -> str:
    """The record's key of one revenue grouping (``region#<id>`` -> ``<id>``)."""
    prefix = f"{group_by}#"
    return next((key[len(prefix) :] for key in record.groups if key.startswith(prefix)), "none")
