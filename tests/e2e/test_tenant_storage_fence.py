"""The storage layer is fenced to the tenant on the twin: the functions sign their table requests as
the platform's data-access role in a session tagged with the tenant (ABAC), and the twin enforces
that role's ``dynamodb:LeadingKeys`` = ``TENANT#${aws:PrincipalTag/tenant}#*`` as IAM would
(infra/twin/iam.py)."""

from __future__ import annotations

import json

import pytest
from moto.sts.models import sts_backends
from pynamodb.exceptions import GetError, QueryError

from infra.twin.client import TwinClient
from infra.twin.deploy import ACCOUNT
from infra.twin.iam import SESSION_TAGS, SIGNED_FOR_TENANT
from infra.twin.server import build_event
from infra.twin.twin import LocalTwin
from shared.repositories.tickets import TicketRepository
from shared.tenant_scope import TenantScopeRequired, tenant_scope
from tests.e2e.test_tenants import COMPLAINT

DATA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-data"


def _assumed(role_arn: str, tenant: str) -> int:
    """Sessions of the role tagged with the tenant."""
    return sum(
        1
        for r in sts_backends[ACCOUNT]["aws"].assumed_roles
        if r.role_arn == role_arn and SESSION_TAGS.get(r.access_key_id, {}).get("tenant") == tenant
    )


def test_the_api_reads_and_writes_through_the_callers_tenant_role(
    twin: LocalTwin, anonymous: TwinClient
) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    before = SIGNED_FOR_TENANT[(DATA_ROLE, "bright-clean")]

    created = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT})
    assert created.status == 201, created.body
    assert anna.get(f"/tickets/{created.body['id']}").status == 200

    # Then: the requests were signed with the data role in a session tagged bright-clean (assumed
    # once per container and tenant)
    assert SIGNED_FOR_TENANT[(DATA_ROLE, "bright-clean")] > before
    assert _assumed(DATA_ROLE, "bright-clean") >= 1


def test_a_repository_bug_cannot_reach_another_tenants_items(twin: LocalTwin, anonymous: TwinClient) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    theirs = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT}).body["id"]
    repo = TicketRepository()

    # Given acme-home's scope, When code asks for bright-clean's ticket by its real key
    with tenant_scope("acme-home"):
        with pytest.raises(GetError) as read:
            repo.get("bright-clean", theirs)
        with pytest.raises(QueryError) as listed:
            repo.page("bright-clean", limit=5)
    # Then DynamoDB (the twin, as IAM) refuses it: the code's own tenant checks are not involved
    for refused in (read.value, listed.value):
        assert refused.cause_response_code == "AccessDeniedException"
        assert "scrm-tenant-data" in str(refused.cause) and "tenant=acme-home" in str(refused.cause)
    with tenant_scope("bright-clean"):
        assert repo.get("bright-clean", theirs).id == theirs


def test_tenant_data_outside_a_scope_is_refused_before_any_request(twin: LocalTwin) -> None:
    with pytest.raises(TenantScopeRequired):
        TicketRepository().find("acme-home", "TK-none")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tickets"),
        ("GET", "/technicians"),
        ("GET", "/reports/revenue?group_by=tier"),
        ("GET", "/deliveries"),
        ("POST", "/deliveries/redrive"),
    ],
)
def test_a_token_of_a_tenant_not_deployed_is_404_before_any_session(
    twin: LocalTwin, method: str, path: str
) -> None:
    """The data roles are shared, so no role refuses an unknown tenant: ``current_caller`` does."""
    # Given a verified token (as API Gateway hands it on) whose tenant is not deployed
    route_path, _, query = path.partition("?")
    matched = twin.router.match(method, route_path)
    assert matched is not None
    route, params = matched
    claims = {"sub": "u-ghost", "tenant": "ghost-co", "roles": ["admin", "ops", "finance", "dispatcher"]}
    event = build_event(route, method, route_path, query, {}, b"", params, claims, twin.port)
    signed = sum(n for (_role, tenant), n in SIGNED_FOR_TENANT.items() if tenant == "ghost-co")
    # When the route's function handles it
    answer = twin.lambdas.invoke(route.function, event)
    # Then 404, and no session was tagged with that tenant nor any request signed for it
    assert answer["statusCode"] == 404, answer
    assert "ghost-co" in json.loads(answer["body"])["message"]
    assert not [tags for tags in SESSION_TAGS.values() if tags.get("tenant") == "ghost-co"]
    assert sum(n for (_role, tenant), n in SIGNED_FOR_TENANT.items() if tenant == "ghost-co") == signed == 0
