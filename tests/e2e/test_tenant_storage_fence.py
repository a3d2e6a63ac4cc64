"""The storage layer is fenced to the tenant on the twin: the functions sign their table requests as
the tenant's data-access role (deployed from the tenant stack), and the twin enforces that role's
``dynamodb:LeadingKeys`` as IAM would (infra/twin/iam.py)."""

from __future__ import annotations

import pytest
from moto.sts.models import sts_backends
from pynamodb.exceptions import GetError, QueryError

from infra.twin.client import TwinClient
from infra.twin.deploy import ACCOUNT
from infra.twin.iam import SIGNED_BY_ROLE
from infra.twin.twin import LocalTwin
from shared.repositories.tickets import TicketRepository
from shared.tenant_scope import TenantScopeRequired, tenant_scope
from tests.e2e.test_tenants import COMPLAINT

ACME_DATA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-acme-home-data"
BRIGHT_DATA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-bright-clean-data"


def _assumed(role_arn: str) -> int:
    return sum(1 for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.role_arn == role_arn)


def test_the_api_reads_and_writes_through_the_callers_tenant_role(
    twin: LocalTwin, anonymous: TwinClient
) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    before = SIGNED_BY_ROLE[BRIGHT_DATA_ROLE]

    created = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT})
    assert created.status == 201, created.body
    assert anna.get(f"/tickets/{created.body['id']}").status == 200

    # Then: the requests were signed with bright-clean's data role, assumed (once per container)
    assert SIGNED_BY_ROLE[BRIGHT_DATA_ROLE] > before
    assert _assumed(BRIGHT_DATA_ROLE) >= 1


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
        assert "scrm-tenant-acme-home-data" in str(refused.cause)
    with tenant_scope("bright-clean"):
        assert repo.get("bright-clean", theirs).id == theirs


def test_tenant_data_outside_a_scope_is_refused_before_any_request(twin: LocalTwin) -> None:
    with pytest.raises(TenantScopeRequired):
        TicketRepository().find("acme-home", "TK-none")
