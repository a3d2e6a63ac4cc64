"""Tenant-scoped credentials against moto: the repositories sign as the tenant's data-access role,
and the twin's IAM check (infra/twin/iam.py) refuses what that role's LeadingKeys do not allow."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto.sts.models import sts_backends
from pynamodb.exceptions import GetError, PynamoDBException, QueryError

from infra.constructs.tenant_data import ACCESS, TENANT_ROLE_PREFIX, leading_keys_condition
from infra.twin.iam import enforce_tenant_roles
from shared import tenant_scope
from shared.domain.ticket import Ticket
from shared.repositories.tickets import TicketRepository
from shared.settings import settings
from shared.tenant_scope import TenantScopeRequired
from tests import factories

ACCOUNT = "123456789012"
TENANTS = ("t-alpha", "t-beta")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _create_role(tenant: str) -> None:
    """The tenant's ``data`` role with the statement the tenant stack deploys (tenant_data.py)."""
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{settings().table_name}"
    kind = ACCESS["read_write"]
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(
        RoleName=kind.role_name(tenant),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCOUNT}}],
            }
        ),
    )
    statement = {
        "Effect": "Allow",
        "Action": list(kind.actions),
        "Resource": [table_arn, f"{table_arn}/index/*"],
        "Condition": leading_keys_condition(tenant),
    }
    iam.put_role_policy(
        RoleName=kind.role_name(tenant),
        PolicyName="TenantItems",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


@pytest.fixture
def scoped_aws(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(
        "TENANT_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/{TENANT_ROLE_PREFIX}{{tenant}}-{{access}}"
    )
    settings.cache_clear()
    enforce_tenant_roles()
    for tenant in TENANTS:
        _create_role(tenant)
    yield
    settings.cache_clear()


def _ticket(tenant: str, ticket_id: str = "TK-1") -> Ticket:
    return factories.ticket(ticket_id, at=T0, tenant=tenant, fields={"question": "how much?"})


_created = factories.created_event


def _denied(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "AccessDeniedException"


def test_a_scope_reads_and_writes_its_own_tenant_through_the_assumed_role(scoped_aws: None) -> None:
    repo = TicketRepository()
    ticket = _ticket("t-alpha")
    with tenant_scope.tenant_scope("t-alpha"):
        repo.create(ticket, _created(ticket))  # a transaction: authorized item by item
        assert repo.get("t-alpha", ticket.id).id == ticket.id
        page, _ = repo.page("t-alpha", limit=10)  # gsi1: the index's partition key is fenced too
        assert [t.id for t in page] == [ticket.id]
        assert [e.kind for e in repo.history("t-alpha", ticket.id)] == ["created"]

    # Then: one AssumeRole for the tenant, and its key is the one the requests were signed with
    broker = tenant_scope.credentials()
    assert broker is not None and broker.assumed == 1
    issued = broker.for_tenant("t-alpha").get_frozen_credentials()
    assumed = sts_backends[ACCOUNT]["aws"].get_assumed_role_from_access_key(issued.access_key)
    assert assumed is not None and assumed.role_arn.endswith(":role/scrm-tenant-t-alpha-data")


def test_another_tenants_items_are_refused_by_the_role_not_by_the_code(scoped_aws: None) -> None:
    repo = TicketRepository()
    beta = _ticket("t-beta")
    with tenant_scope.tenant_scope("t-beta"):
        repo.create(beta, _created(beta))

    # Given a scope of tenant alpha, When a repository asks for beta's items (a bug in the code)
    with tenant_scope.tenant_scope("t-alpha"):
        with pytest.raises(GetError) as got:
            repo.get("t-beta", beta.id)
        assert _denied(got.value)
        assert "scrm-tenant-t-alpha-data" in str(got.value.cause)
        with pytest.raises(QueryError) as listed:
            repo.page("t-beta", limit=10)  # on gsi1
        assert _denied(listed.value)
        with pytest.raises(PynamoDBException) as written:
            repo.create(_ticket("t-beta", "TK-2"), _created(beta))  # TransactWriteItems
        assert _denied(written.value)
    # beta's own scope still sees it
    with tenant_scope.tenant_scope("t-beta"):
        assert repo.get("t-beta", beta.id).status == beta.status


def test_without_a_scope_tenant_data_is_not_touched_at_all(scoped_aws: None) -> None:
    with pytest.raises(TenantScopeRequired):
        TicketRepository().find("t-alpha", "T-none")


def test_credentials_are_cached_per_tenant(scoped_aws: None) -> None:
    repo = TicketRepository()
    for _ in range(3):
        for tenant in TENANTS:
            with tenant_scope.tenant_scope(tenant):
                assert repo.find(tenant, "T-none") is None
    broker = tenant_scope.credentials()
    assert broker is not None and broker.assumed == len(TENANTS)


def test_an_invocation_starts_and_ends_without_a_scope() -> None:
    seen: dict[str, str | None] = {}

    def other_thread() -> None:
        seen["other thread"] = tenant_scope.current()

    with tenant_scope.invocation():  # this test's own boundary
        tenant_scope.enter("t-alpha")  # left behind by a previous invocation on this thread
        with tenant_scope.invocation():
            seen["at start"] = tenant_scope.current()
            tenant_scope.enter("t-beta")
            with tenant_scope.invocation():  # nested (the twin's synchronous lambda:Invoke)
                seen["nested"] = tenant_scope.current()
            seen["after nested"] = tenant_scope.current()
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join()
        seen["after"] = tenant_scope.current()
    assert seen == {
        "at start": None,
        "nested": None,
        "after nested": "t-beta",
        "other thread": None,
        "after": "t-alpha",
    }
