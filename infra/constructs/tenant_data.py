"""The data-access roles: the storage layer fenced to the tenant by a session tag (ABAC).

The platform functions serve every tenant and their own roles hold no table access; they assume a
data-access role *for* the tenant they act for (``shared/tenant_scope.py``), passing the tenant's id
as the session tag ``tenant``. The roles live in the platform stack, a constant number of them: one
per kind of table access the functions have (``FunctionSpec.table``), so a function keeps its least
privilege inside a tenant too:

| access | role | allows |
|---|---|---|
| ``read_write`` | ``scrm-tenant-data`` | Get/BatchGet/Query/Put/Update/Delete on the table and its indexes |
| ``read`` | ``scrm-tenant-read`` | Get/BatchGet/Query on the table and its indexes |
| ``open_tickets`` | ``scrm-tenant-open-tickets`` | Query on the open-tickets index |

Why shared roles and not a role per tenant: an account holds 1,000 IAM roles, so three roles per
tenant stack stopped onboarding near the 300th tenant (issue 16). With session tags the count does
not grow with tenants, and the fence is as tight: every statement carries ``ForAllValues:StringLike``
``dynamodb:LeadingKeys`` = ``TENANT#${aws:PrincipalTag/tenant}#*``, the policy variable being the
session's ``tenant`` tag. ``LeadingKeys`` is the partition key the request names: the table's for
item actions, the index's for a Query on an index (a GSI has its own partition key and the condition
applies to it), so every index's partition key starts with the tenant too (``gsi1pk``, ``gsi2pk``,
``gsi3pk``: ``TENANT#<id>#...``). Transactions are authorized item by item as Put/Update/Delete, so
no transaction action is needed. ``BatchGetItem`` is granted with reads (a ticket list page reads
its tickets by key): it names every key it reads, and ``ForAllValues`` holds each of them to the
tenant. Scan, batch writes and PartiQL are not granted: a Scan names no partition key, and
``ForAllValues`` over no value would be true. IAM does not look at the index keys
an item is *written* with; the repositories build them with ``tenant_key`` like the table keys. A
tenant id holds no IAM wildcard (``[a-z0-9-]``, and a tag value may not hold ``*`` or ``?``), and the
``#`` after it keeps ``acme`` from reaching ``acme-home``'s keys.

Trust: the account, on condition that the caller is one of the platform functions' roles (fixed
names ``scrm-<service>-<role>``) with that kind of access (``aws:PrincipalArn``; a principal naming
the role itself would break silently when the platform recreates the role), that it tags the
session with ``tenant`` (``sts:TagSession``; ``aws:RequestTag/tenant`` must be present and be a
tenant id) and with no other tag (``aws:TagKeys``), so a session without a tenant cannot exist. The
functions' roles allow ``sts:AssumeRole`` and ``sts:TagSession`` on exactly these roles
(``infra/constructs/grants.py``).

What a role no longer says: whether the tenant exists. A role per tenant refused an unknown tenant at
``AssumeRole``; now the tenant's configuration does (``shared.tenant.store.tenant_config`` raises
``NotFound``), and ``shared/tenant_scope.py`` asks for it before it assumes a role for a tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS
from infra.constructs.nag import cfn_id, iam_ack
from shared.repositories.tickets import OPEN_INDEX

TABLE_ARN_EXPORT = "scrm-table-arn"
"""Export of the platform stack: the table's ARN. Tenant stacks of earlier releases import it (their
roles named the table); kept until every tenant stack is redeployed without that import."""
TENANT_ROLE_PREFIX = "scrm-tenant-"
SESSION_TAG = "tenant"
"""The session tag that names the tenant a session acts for (``aws:PrincipalTag/tenant``)."""
TENANT_KEY_PATTERN = "TENANT#${aws:PrincipalTag/" + SESSION_TAG + "}#*"
"""The partition keys a session may name: its own tenant's (an IAM policy variable, not Python)."""
TENANT_TAG_PATTERN = "?*"
"""What ``aws:RequestTag/tenant`` must match at AssumeRole: present and not empty."""

_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
ASSUME_ACTIONS = ("sts:AssumeRole", "sts:TagSession")


@dataclass(frozen=True)
class DataAccess:
    """One kind of table access of the functions, and the data-access role that grants it."""

    suffix: str
    actions: tuple[str, ...]
    items: bool  # the table's items (GetItem, Query, writes) besides indexes
    indexes: str  # "*" every index, else one index name

    @property
    def role_name(self) -> str:
        return f"{TENANT_ROLE_PREFIX}{self.suffix}"


ACCESS: dict[str, DataAccess] = {
    "read_write": DataAccess("data", _READ + _WRITE, items=True, indexes="*"),
    "read": DataAccess("read", _READ, items=True, indexes="*"),
    "open_tickets": DataAccess("open-tickets", ("dynamodb:Query",), items=False, indexes=OPEN_INDEX),
}


def role_arn(scope: Construct, name: str) -> str:
    """The ARN of a role of this account from its fixed name (no reference to the role)."""
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:iam::{stack.account}:role/{name}"


def tenant_role_arn_template(scope: Construct) -> str:
    """Env ``TENANT_ROLE_ARN`` of the functions: a data-access role's ARN with ``{access}`` for the
    role's suffix (env ``TENANT_DATA_ACCESS`` of each function). No ``{tenant}``: the tenant is the
    session tag, not the role.

    The same for every function: the local twin puts the variables the functions agree on into its
    process (tests and scripts that use the repositories outside an invocation), with the ``data``
    role as the default access.
    """
    return role_arn(scope, f"{TENANT_ROLE_PREFIX}{{access}}")


def function_role_arn(scope: Construct, function_name: str) -> str:
    """The ARN of a platform function's role (named as the function, see functions.py)."""
    return role_arn(scope, function_name)


def leading_keys_condition() -> dict[str, dict[str, list[str]]]:
    """The fence of every statement: the session's own tenant's partition keys only."""
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [TENANT_KEY_PATTERN]}}


def trust_conditions(callers: list[str]) -> dict[str, dict[str, object]]:
    """Who may assume a data-access role, and only with a ``tenant`` session tag (and no other tag)."""
    return {
        "ArnEquals": {"aws:PrincipalArn": callers},
        "StringLike": {f"aws:RequestTag/{SESSION_TAG}": TENANT_TAG_PATTERN},
        "ForAllValues:StringEquals": {"aws:TagKeys": [SESSION_TAG]},
    }


class TenantDataAccess(Construct):
    """The data-access roles of the platform, one per kind of table access the functions use."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        self.roles: dict[str, iam.Role] = {}
        for access in sorted({spec.table for spec in FUNCTIONS}):
            kind = ACCESS[access]
            callers = sorted(function_role_arn(self, spec.name) for spec in FUNCTIONS if spec.table == access)
            resources = [table.table_arn] if kind.items else []
            resources.append(f"{table.table_arn}/index/{kind.indexes}")
            role = iam.Role(
                self,
                f"{''.join(p.capitalize() for p in kind.suffix.split('-'))}Role",
                role_name=kind.role_name,
                description=f"{access} access to one tenant's items of the scrm table: the tenant of "
                f"the session tag '{SESSION_TAG}'",
                assumed_by=iam.AccountPrincipal(Stack.of(self).account)
                .with_conditions(trust_conditions(callers))
                .with_session_tags(),
                inline_policies={
                    "TenantItems": iam.PolicyDocument(
                        statements=[
                            iam.PolicyStatement(
                                sid="TenantItems",
                                actions=list(kind.actions),
                                resources=resources,
                                conditions=leading_keys_condition(),
                            )
                        ]
                    )
                },
            )
            if kind.indexes == "*":
                Validations.of(role).acknowledge(
                    iam_ack(
                        f"Resource::<{cfn_id(table)}.Arn>/index/*",
                        "the table's indexes, each partitioned by tenant: dynamodb:LeadingKeys keeps "
                        "every request to TENANT#<the session's tenant tag>#*",
                    )
                )
            self.roles[access] = role
