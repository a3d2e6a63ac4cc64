"""Lambda entry point of the dispatch service's /technicians API (the dispatch task: ``tasks.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dispatch import registry
from functions.dispatch.schemas import TechnicianOut, TechnicianPage, TechnicianUpdate, technician_out
from functions.dispatch.wiring import deps
from shared.clock import now
from shared.errors import Forbidden
from shared.http import current_caller, install_error_handlers, resolve
from shared.identity import Caller
from shared.observability import logger, metrics, tracer
from shared.tenant.store import tenant_config

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


def _registry_caller() -> tuple[Caller, TenantConfig]:
    caller = current_caller(app)
    if not caller.has_any(*registry.REGISTRY_ROLES):
        raise Forbidden("the technician registry needs the role dispatcher or admin")
    cfg = tenant_config(caller.tenant)
    deps().technicians.ensure_seeded(cfg.tenant.id, list(cfg.technicians))
    return caller, cfg


@app.get("/technicians")
def list_technicians() -> TechnicianPage:
    _caller, cfg = _registry_caller()
    at = now()
    return TechnicianPage(items=[technician_out(r, at) for r in deps().technicians.roster(cfg.tenant.id)])


@app.put("/technicians/<technician_id>")
def update_technician(technician_id: str, body: TechnicianUpdate) -> TechnicianOut:
    caller, cfg = _registry_caller()
    changes = body.changes()
    registry.check_changes(cfg, changes)
    record = deps().technicians.update(cfg.tenant.id, technician_id, changes, actor=caller.sub)
    return technician_out(record, now())


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
