"""A tenant's data-access roles: the storage layer fenced to the tenant (``shared/tenant_scope.py``).

The platform functions serve every tenant and their own roles hold no table access; they assume
the role of the tenant they act for. One role per kind of table access the functions have
(``FunctionSpec.table``), so a function keeps its least privilege inside a tenant too:

| access | role | allows |
|---|---|---|
| ``read_write`` | ``scrm-tenant-<id>-data`` | Get/Query/Put/Update/Delete on the table and its indexes |
| ``read`` | ``scrm-tenant-<id>-read`` | Get/Query on the table and its indexes |
| ``open_tickets`` | ``scrm-tenant-<id>-open-tickets`` | Query on the open-tickets index |

Every statement carries ``ForAllValues:StringLike`` ``dynamodb:LeadingKeys`` = ``TENANT#<id>#*``.
``LeadingKeys`` is the partition key the request names: the table's for item actions, the index's
for a Query on an index (a GSI has its own partition key and the condition applies to it), so every
index's partition key starts with the tenant too (``gsi1pk``, ``gsi2pk``, ``gsi3pk``:
``TENANT#<id>#...``). Transactions are authorized item by item as Put/Update/Delete, so no
transaction action is needed. Scan, batch and PartiQL actions are not granted: a Scan names no
partition key, and ``ForAllValues`` over no value would be true. IAM does not look at the index
keys an item is *written* with; the repositories build them with ``tenant_key`` like the table keys.

Trust: the account, on condition that the caller is one of the platform functions' roles
(fixed names ``scrm-<service>-<role>``) with that kind of access (``aws:PrincipalArn``; a principal
naming the role itself would break silently when the platform recreates the role). The functions'
roles allow ``sts:AssumeRole`` on ``scrm-tenant-*-<suffix>`` (``infra/constructs/grants.py``),
so both sides must agree. Role names are account-wide, so a tenant is onboarded in one region of an
account. The table's ARN comes from the platform stack's export :data:`TABLE_ARN_EXPORT`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Fn, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS
from infra.constructs.nag import iam_ack
from shared.repositories.tickets import OPEN_INDEX

TABLE_ARN_EXPORT = "scrm-table-arn"
"""Export of the platform stack: the table's ARN, imported by every tenant stack."""
TENANT_ROLE_PREFIX = "scrm-tenant-"
TENANT_KEY_PATTERN = "TENANT#{tenant}#*"

_READ = ("dynamodb:GetItem", "dynamodb:Query")
_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


@dataclass(frozen=True)
class DataAccess:
    """One kind of table access of the functions, and the tenant role that grants it."""

    suffix: str
    actions: tuple[str, ...]
    items: bool  # the table's items (GetItem, Query, writes) besides indexes
    indexes: str  # "*" every index, else one index name

    def role_name(self, tenant: str) -> str:
        return f"{TENANT_ROLE_PREFIX}{tenant}-{self.suffix}"

    @property
    def role_name_pattern(self) -> str:
        """Every tenant's role of this kind (what a function role may assume)."""
        return f"{TENANT_ROLE_PREFIX}*-{self.suffix}"


ACCESS: dict[str, DataAccess] = {
    "read_write": DataAccess("data", _READ + _WRITE, items=True, indexes="*"),
    "read": DataAccess("read", _READ, items=True, indexes="*"),
    "open_tickets": DataAccess("open-tickets", ("dynamodb:Query",), items=False, indexes=OPEN_INDEX),
}


def tenant_role_arn_template(scope: Construct) -> str:
    """Env ``TENANT_ROLE_ARN`` of the functions: a tenant role's ARN with ``{tenant}`` for the tenant
    id and ``{access}`` for the role's suffix (env ``TENANT_DATA_ACCESS`` of each function).

    The same for every function: the local twin runs them in one process, where only variables that
    agree across functions are set (there every function uses the ``data`` role, the default).
    """
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:iam::{stack.account}:role/{TENANT_ROLE_PREFIX}{{tenant}}-{{access}}"


def function_role_arn(scope: Construct, function_name: str) -> str:
    """The ARN of a platform function's role (named as the function, see functions.py)."""
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:iam::{stack.account}:role/{function_name}"


def leading_keys_condition(tenant: str) -> dict[str, dict[str, list[str]]]:
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [TENANT_KEY_PATTERN.format(tenant=tenant)]}}


class TenantDataAccess(Construct):
    """The tenant's data-access roles, one per kind of table access the platform functions use."""

    def __init__(self, scope: Construct, construct_id: str, *, tenant_id: str) -> None:
        super().__init__(scope, construct_id)
        table = Fn.import_value(TABLE_ARN_EXPORT)
        self.tenant_id = tenant_id
        self.roles: dict[str, iam.Role] = {}
        for access in sorted({spec.table for spec in FUNCTIONS}):
            kind = ACCESS[access]
            callers = sorted(function_role_arn(self, spec.name) for spec in FUNCTIONS if spec.table == access)
            resources = [table] if kind.items else []
            resources.append(f"{table}/index/{kind.indexes}")
            role = iam.Role(
                self,
                f"{''.join(p.capitalize() for p in kind.suffix.split('-'))}Role",
                role_name=kind.role_name(tenant_id),
                description=f"tenant {tenant_id}: {access} access to its own items of the scrm table",
                assumed_by=iam.AccountPrincipal(Stack.of(self).account).with_conditions(
                    {"ArnEquals": {"aws:PrincipalArn": callers}}
                ),
                inline_policies={
                    "TenantItems": iam.PolicyDocument(
                        statements=[
                            iam.PolicyStatement(
                                sid="TenantItems",
                                actions=list(kind.actions),
                                resources=resources,
                                conditions=leading_keys_condition(tenant_id),
                            )
                        ]
                    )
                },
            )
            if kind.indexes == "*":
                Validations.of(role).acknowledge(
                    iam_ack(
                        f"Resource::{TABLE_ARN_EXPORT}/index/*",
                        f"the table's indexes, each partitioned by tenant: dynamodb:LeadingKeys keeps "
                        f"every query to TENANT#{tenant_id}#*",
                    )
                )
            self.roles[access] = role
