"""Tenant-scoped credentials against moto: the repositories sign as the platform's data-access role,
assumed with the tenant as its session tag (ABAC), and the twin's IAM check (infra/twin/iam.py)
evaluates ``${aws:PrincipalTag/tenant}`` to refuse what that session's LeadingKeys do not allow."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sts.models import sts_backends
from pynamodb.exceptions import GetError, PynamoDBException, QueryError

from infra.constructs.tenant_data import (
    ACCESS,
    ASSUME_ACTIONS,
    TENANT_ROLE_PREFIX,
    leading_keys_condition,
    trust_conditions,
)
from infra.twin.iam import SESSION_TAGS, enforce_tenant_roles
from shared import tenant_scope
from shared.domain.ticket import Ticket
from shared.errors import NotFound
from shared.repositories.tickets import TicketRepository
from shared.settings import settings
from shared.tenant.models import TenantConfig
from shared.tenant_scope import TenantScopeRequired
from tests import factories
from tests.tenant_objects import deploy_config

ACCOUNT = "123456789012"
TENANTS = ("t-alpha", "t-beta")
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _create_data_role(monkeypatch: pytest.MonkeyPatch) -> str:
    """The platform's ``data`` role with the trust and the statement the platform stack deploys
    (tenant_data.py), the caller condition left out (moto's caller is not a function role); its
    ARN. Named ``<unique prefix>data``, as ``scrm-tenant-data``: a twin running in the same
    process has deployed that one, for its own table."""
    prefix = f"{TENANT_ROLE_PREFIX}{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("TENANT_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/{prefix}{{access}}")
    settings.cache_clear()
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{settings().table_name}"
    kind = ACCESS["read_write"]
    role_name = f"{prefix}{kind.suffix}"
    tag_conditions = {k: v for k, v in trust_conditions([]).items() if k != "ArnEquals"}
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": list(ASSUME_ACTIONS),
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Condition": tag_conditions,
                    }
                ],
            }
        ),
    )
    statement = {
        "Effect": "Allow",
        "Action": list(kind.actions),
        "Resource": [table_arn, f"{table_arn}/index/*"],
        "Condition": leading_keys_condition(),
    }
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="TenantItems",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return f"arn:aws:iam::{ACCOUNT}:role/{role_name}"


def _deployed_only(*tenants: str) -> object:
    """What ``tenant_config`` answers about existence, for tenants deployed without a config store."""

    def vouch(tenant: str) -> None:
        if tenant not in tenants:
            raise NotFound(f"unknown tenant '{tenant}'")

    return vouch


@pytest.fixture
def scoped_aws(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The data role's ARN, the functions' setting naming it, and the twin's IAM check on."""
    # the tenants are deployed (their configuration is another test's subject: tests of the store)
    monkeypatch.setattr(tenant_scope, "deployed", _deployed_only(*TENANTS))
    enforce_tenant_roles()
    yield _create_data_role(monkeypatch)
    settings.cache_clear()


def _ticket(tenant: str, ticket_id: str = "TK-1") -> Ticket:
    return factories.ticket(ticket_id, at=T0, tenant=tenant, fields={"question": "how much?"})


_created = factories.created_event


def _denied(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "AccessDeniedException"


def test_a_scope_reads_and_writes_its_own_tenant_through_the_assumed_role(scoped_aws: str) -> None:
    repo = TicketRepository()
    ticket = _ticket("t-alpha")
    with tenant_scope.tenant_scope("t-alpha"):
        repo.create(ticket, _created(ticket))  # a transaction: authorized item by item
        assert repo.get("t-alpha", ticket.id).id == ticket.id
        page, _ = repo.page("t-alpha", limit=10)  # gsi1: the index's partition key is fenced too
        assert [t.id for t in page] == [ticket.id]
        assert [e.kind for e in repo.history("t-alpha", ticket.id)] == ["created"]

    # Then: one AssumeRole for the tenant, and its key is the one the requests were signed with: the
    # shared data role, in a session tagged with the tenant and named after it
    broker = tenant_scope.credentials()
    assert broker is not None and broker.assumed == 1
    key = broker.for_tenant("t-alpha").get_frozen_credentials().access_key
    assert key is not None
    assumed = sts_backends[ACCOUNT]["aws"].get_assumed_role_from_access_key(key)
    assert assumed is not None and assumed.role_arn == scoped_aws
    assert assumed.session_name.startswith("t-alpha@")
    assert SESSION_TAGS[key] == {"tenant": "t-alpha"}


def test_another_tenants_items_are_refused_by_the_role_not_by_the_code(scoped_aws: str) -> None:
    repo = TicketRepository()
    beta = _ticket("t-beta")
    with tenant_scope.tenant_scope("t-beta"):
        repo.create(beta, _created(beta))

    # Given a scope of tenant alpha, When a repository asks for beta's items (a bug in the code)
    with tenant_scope.tenant_scope("t-alpha"):
        with pytest.raises(GetError) as got:
            repo.get("t-beta", beta.id)
        assert _denied(got.value)
        assert scoped_aws.rsplit("/", 1)[1] in str(got.value.cause)
        assert "tenant=t-alpha" in str(got.value.cause)
        with pytest.raises(QueryError) as listed:
            repo.page("t-beta", limit=10)  # on gsi1
        assert _denied(listed.value)
        with pytest.raises(PynamoDBException) as written:
            repo.create(_ticket("t-beta", "TK-2"), _created(beta))  # TransactWriteItems
        assert _denied(written.value)
    # beta's own scope still sees it
    with tenant_scope.tenant_scope("t-beta"):
        assert repo.get("t-beta", beta.id).status == beta.status


def test_without_a_scope_tenant_data_is_not_touched_at_all(scoped_aws: str) -> None:
    with pytest.raises(TenantScopeRequired):
        TicketRepository().find("t-alpha", "T-none")


def test_credentials_are_cached_per_tenant_one_role_for_all(scoped_aws: str) -> None:
    repo = TicketRepository()
    for _ in range(3):
        for tenant in TENANTS:
            with tenant_scope.tenant_scope(tenant):
                assert repo.find(tenant, "T-none") is None
    broker = tenant_scope.credentials()
    assert broker is not None and broker.assumed == len(TENANTS)
    mine = [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.role_arn == scoped_aws]
    assert sorted(SESSION_TAGS[r.access_key_id]["tenant"] for r in mine) == sorted(TENANTS)


def test_an_unknown_tenant_is_not_found_before_any_session_or_request(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the functions' setting, the real check (the tenant's configuration) and one tenant deployed
    enforce_tenant_roles()
    role_arn = _create_data_role(monkeypatch)
    deployed = TenantConfig.model_validate(factories.tenant_dict())
    deploy_config(deployed)
    before = len(sts_backends[ACCOUNT]["aws"].assumed_roles)
    # When code of a scope of a tenant that is not deployed touches the table
    with tenant_scope.tenant_scope("ghost-co"), pytest.raises(NotFound, match="ghost-co"):
        TicketRepository().page("ghost-co", limit=1)
    # Then no session was ever made for it: the shared role would have tagged one for any id
    assert len(sts_backends[ACCOUNT]["aws"].assumed_roles) == before
    broker = tenant_scope.credentials()
    assert broker is not None and broker.assumed == 0
    # while the deployed tenant gets its session and its (empty) page
    tenant = deployed.tenant.id
    with tenant_scope.tenant_scope(tenant):
        assert TicketRepository().page(tenant, limit=1)[0] == []
    (session,) = [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles[before:] if r.role_arn == role_arn]
    assert SESSION_TAGS[session.access_key_id] == {"tenant": tenant} and broker.assumed == 1


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ([], "no tenant tag"),
        ([{"Key": "tenant", "Value": "t-alpha"}, {"Key": "team", "Value": "x"}], "a tag besides tenant"),
        ([{"Key": "tenant", "Value": ""}], "an empty tenant"),
    ],
)
def test_the_trust_policy_wants_exactly_a_tenant_tag(
    scoped_aws: str, tags: list[dict[str, str]], why: str
) -> None:
    sts = boto3.client("sts", region_name="us-east-1")
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=scoped_aws, RoleSessionName="probe", Tags=tags)
    assert refused.value.response["Error"]["Code"] == "AccessDenied", why
    # and a role that does not exist is refused as in AWS (moto alone would issue keys for it)
    with pytest.raises(ClientError) as missing:
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-t-alpha-data",
            RoleSessionName="probe",
            Tags=[{"Key": "tenant", "Value": "t-alpha"}],
        )
    assert missing.value.response["Error"]["Code"] == "AccessDenied"


def test_a_wildcard_in_the_tenant_tag_is_refused_before_it_could_widen_the_fence(scoped_aws: str) -> None:
    sts = boto3.client("sts", region_name="us-east-1")
    with pytest.raises(ClientError) as refused:
        sts.assume_role(RoleArn=scoped_aws, RoleSessionName="probe", Tags=[{"Key": "tenant", "Value": "t-*"}])
    assert refused.value.response["Error"]["Code"] == "ValidationError"


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
