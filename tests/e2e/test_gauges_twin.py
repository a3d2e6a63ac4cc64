"""The OpenTickets gauges on the twin: ONE platform rule (deployed into moto from the platform stack)
invokes ``scrm-ticket-gauges`` with ``{}``, which measures every deployed tenant, each in a session of
the open-tickets role tagged with that tenant."""

from __future__ import annotations

import pytest

from infra.twin.client import TwinClient
from infra.twin.deploy import ACCOUNT, REGION
from infra.twin.iam import SIGNED_FOR_TENANT
from infra.twin.lambdas import FunctionFailed
from infra.twin.rules import function_name
from infra.twin.twin import LocalTwin
from tests.e2e.test_consult_slice import CONSULT

OPEN_TICKETS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-open-tickets"


def test_the_one_platform_rule_measures_every_tenant_in_its_own_session(
    twin: LocalTwin, anonymous: TwinClient
) -> None:
    tenants = sorted(twin.issuer.tenants)
    assert len(tenants) >= 2
    # Given the deployed scheduled rules: one gauge rule for all tenants, none per tenant
    gauge_rules = [r for r in twin.rules.rules if "open-tickets" in r.name]
    assert [r.name for r in gauge_rules] == ["scrm-open-tickets"]
    (rule,) = gauge_rules
    (target,) = rule.targets
    assert function_name(str(target["Arn"])) == "scrm-ticket-gauges"
    # And an open ticket of the first tenant
    agent = anonymous.as_user("acme-home", "u-lin", ["agent"])
    created = agent.post("/tickets", {"type": "consult", "fields": {**CONSULT, "question": "gauges?"}})
    assert created.status == 201, created.body
    before = {t: SIGNED_FOR_TENANT[(OPEN_TICKETS_ROLE, t)] for t in tenants}
    points = len(twin.metrics.points)

    # When the rule fires as the twin clock fires it (its deployed input, its target)
    now = twin.clock.now()
    answer = twin.lambdas.invoke(
        str(function_name(str(target["Arn"]))), rule.event(target, now, ACCOUNT, REGION)
    )

    # Then every tenant was measured, none failed, none left for the next run
    assert answer["tenants"] == len(tenants) and sorted(answer["open"]) == tenants
    assert answer["failed"] == {} and answer["unreached"] == []
    assert answer["open"]["acme-home"] >= 1
    # ... each tenant's query signed in a session of the open-tickets role tagged with that tenant
    for tenant in tenants:
        assert SIGNED_FOR_TENANT[(OPEN_TICKETS_ROLE, tenant)] > before[tenant], tenant
    # ... and the OpenTickets points of every tenant reached the twin's metrics (its dashboard)
    measured = {p.dimensions.get("tenant") for p in twin.metrics.points[points:] if p.name == "OpenTickets"}
    assert measured == set(tenants)


def test_one_tenant_on_demand_and_an_unknown_one_fails(twin: LocalTwin) -> None:
    answer = twin.lambdas.invoke("scrm-ticket-gauges", {"tenant": "bright-clean"})
    assert answer["tenant"] == "bright-clean" and "by_node" in answer
    with pytest.raises(FunctionFailed, match="nobody-co"):
        twin.lambdas.invoke("scrm-ticket-gauges", {"tenant": "nobody-co"})
