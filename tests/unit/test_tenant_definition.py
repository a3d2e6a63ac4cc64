"""``GET /tenant``'s view of the tenant file: the file's order, names for pickers, nothing secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from functions.ticket.definition import tenant_definition
from functions.ticket.schemas import TenantDefinitionOut
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from tests.generated import tenants

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    cfg: TenantConfig = load_tenant_file(str(EXAMPLE))
    return cfg


def test_the_example_keeps_its_order_and_names_and_hides_contacts_and_prices(acme: TenantConfig) -> None:
    view = tenant_definition(acme)
    TenantDefinitionOut.model_validate(view)
    assert list(view["ticket_types"]) == list(acme.ticket_types)
    install = view["ticket_types"]["install"]
    assert list(install["nodes"]) == list(acme.ticket_types["install"].nodes)
    assert install["nodes"]["on_site"]["actions"] == [
        ["complete", "customer_confirm"],
        ["need_parts", "waiting_parts"],
        ["decline", "dispatching"],
    ]
    assert install["nodes"]["dispatching"]["on_no_candidate"] == "manual_dispatch"
    assert install["sla_levels"] == ["yellow", "orange", "red"]
    triage = view["ticket_types"]["callback"]["nodes"]["triage"]
    assert (
        triage["kind"] == "decision"
        and triage["default"] == "done"
        and triage["rules"][0]["next"] == "review"
    )
    assert {"code": "SVC-AC-INSTALL", "name": "空调安装", "unit": "台"} in view["catalog"]["service_items"]
    text = json.dumps(view, ensure_ascii=False)
    for secret in ("+8613800000011", "lin@acme.example", "ssm", "price", "200.00", "wecom_user", "whsec"):
        assert secret not in text, secret
    assert view["tenant"]["locale"] == "zh-CN"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tenants())
def test_any_tenant_reads_back_in_its_own_order(data: dict[str, Any]) -> None:
    cfg = TenantConfig.model_validate(data)
    view = json.loads(json.dumps(tenant_definition(cfg)))
    assert list(view["ticket_types"]) == list(data["ticket_types"])
    for type_id, spec in data["ticket_types"].items():
        assert list(view["ticket_types"][type_id]["nodes"]) == list(spec["nodes"])
        for name, node in spec["nodes"].items():
            actions = [list(pair) for pair in node.get("actions", {}).items()]
            assert view["ticket_types"][type_id]["nodes"][name].get("actions", []) == actions
