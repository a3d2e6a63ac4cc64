"""The storage layer fenced to the tenant by a session tag (ABAC): the platform's data-access roles
(LeadingKeys from ``aws:PrincipalTag/tenant``, trust with ``sts:TagSession``), the platform functions'
roles, which reach tenant items only by assuming them, and tenant stacks that add no role at all."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.catalogue import FUNCTIONS
from infra.constructs.tenant_data import ACCESS, TABLE_ARN_EXPORT
from tests.infra.test_platform_stack import functions_by_name, of_type, statements_of_role

ARN_PREFIX = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/"
STREAM_ACTIONS = {
    "dynamodb:ListStreams",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
}


def _flatten(value: Any) -> str:
    """A CloudFormation string with ``Ref``/``Fn::GetAtt``/``Fn::ImportValue`` shown as ``<name>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return f"<import {value['Fn::ImportValue']}>"
    raise AssertionError(f"unexpected token {value}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _roles(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = of_type(raw, "AWS::IAM::Role").values()
    return {r["Properties"]["RoleName"]: r["Properties"] for r in found if "RoleName" in r["Properties"]}


def test_one_data_role_per_kind_of_access_reaches_only_the_session_tenants_keys(
    platform_raw: dict[str, Any],
) -> None:
    roles = _roles(platform_raw)
    (table_id,) = of_type(platform_raw, "AWS::DynamoDB::Table")
    table = f"<{table_id}.Arn>"
    # Given the platform stack, Then there is one role per kind of access, named without a tenant
    assert {n for n in roles if n.startswith("scrm-tenant-")} == {
        "scrm-tenant-data",
        "scrm-tenant-read",
        "scrm-tenant-open-tickets",
    }
    assert {ACCESS[spec.table].role_name for spec in FUNCTIONS} == {
        n for n in roles if n.startswith("scrm-tenant-")
    }
    for access in {spec.table for spec in FUNCTIONS}:
        kind = ACCESS[access]
        (policy,) = roles[kind.role_name]["Policies"]
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert set(_listed(statement["Action"])) == set(kind.actions)
        # BatchGetItem names every key it reads (LeadingKeys holds each); a Scan names none
        assert not {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:PartiQLSelect"} & set(kind.actions)
        # the fence is the session's tenant tag, an IAM policy variable (not substituted by CDK)
        assert statement["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/tenant}#*"]}
        }
        resources = {_flatten(r) for r in _listed(statement["Resource"])}
        assert resources == ({table} if kind.items else set()) | {f"{table}/index/{kind.indexes}"}
    # read_write is the only kind that writes
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert writes <= set(ACCESS["read_write"].actions)
    assert not writes & (set(ACCESS["read"].actions) | set(ACCESS["open_tickets"].actions))


def test_only_the_functions_with_that_access_may_assume_it_and_only_with_a_tenant_tag(
    platform_raw: dict[str, Any],
) -> None:
    roles = _roles(platform_raw)
    for access in {spec.table for spec in FUNCTIONS}:
        (statement,) = roles[ACCESS[access].role_name]["AssumeRolePolicyDocument"]["Statement"]
        # sts:TagSession: the session carries the tenant it acts for
        assert sorted(_listed(statement["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
        assert _flatten(statement["Principal"]["AWS"]) == "arn:<AWS::Partition>:iam::<AWS::AccountId>:root"
        conditions = statement["Condition"]
        callers = {_flatten(a) for a in conditions["ArnEquals"]["aws:PrincipalArn"]}
        assert callers == {f"{ARN_PREFIX}{spec.name}" for spec in FUNCTIONS if spec.table == access}
        # no session without a tenant tag, and no other tag
        assert conditions["StringLike"] == {"aws:RequestTag/tenant": "?*"}
        assert conditions["ForAllValues:StringEquals"] == {"aws:TagKeys": ["tenant"]}
    # the settlement API only reads: it is trusted by the read role alone
    read_callers = {spec.name for spec in FUNCTIONS if spec.table == "read"}
    assert "scrm-settlement-api" in read_callers


def test_function_roles_hold_no_table_access_only_assume_their_role_with_a_tag(
    platform_raw: dict[str, Any],
) -> None:
    functions = functions_by_name(platform_raw)
    roles = of_type(platform_raw, "AWS::IAM::Role")
    for spec in FUNCTIONS:
        _lid, props = functions[spec.name]
        role_id = props["Role"]["Fn::GetAtt"][0]
        assert roles[role_id]["Properties"]["RoleName"] == spec.name  # what the trust policies name
        statements = statements_of_role(platform_raw, role_id)
        actions = {a for s in statements for a in _listed(s["Action"])}
        # no item or table action; a stream consumer reads the table's stream (records, not items
        # of a tenant: the event source mapping reads them with the function's role)
        assert not {a for a in actions if a.startswith("dynamodb:")} - STREAM_ACTIONS, spec.name
        (assume,) = [s for s in statements if "sts:" in json.dumps(s["Action"])]
        assert sorted(_listed(assume["Action"])) == ["sts:AssumeRole", "sts:TagSession"]
        # exactly its kind's role: no wildcard, the roles no longer come with the tenants
        assert _flatten(assume["Resource"]) == f"{ARN_PREFIX}{ACCESS[spec.table].role_name}"
        env = props["Environment"]["Variables"]
        assert _flatten(env["TENANT_ROLE_ARN"]) == f"{ARN_PREFIX}scrm-tenant-{{access}}"
        assert "{tenant}" not in _flatten(env["TENANT_ROLE_ARN"])
        assert env["TENANT_DATA_ACCESS"] == ACCESS[spec.table].suffix


def test_a_tenant_stack_holds_no_role_permission_or_rule_of_its_own(
    tenant_raws: dict[str, dict[str, Any]],
) -> None:
    for tenant_id, raw in tenant_raws.items():
        # no data-access role, no workflow role (the technician seeding's custom resource aside)
        roles = of_type(raw, "AWS::IAM::Role")
        assert not [lid for lid in roles if lid.startswith(("DataAccess", "Workflows"))], tenant_id
        named = [r["Properties"].get("RoleName", "") for r in roles.values()]
        assert not [n for n in named if n.startswith("scrm-")], (tenant_id, named)
        machines = of_type(raw, "AWS::StepFunctions::StateMachine").values()
        assert machines
        assert {_flatten(m["Properties"]["RoleArn"]) for m in machines} == {f"{ARN_PREFIX}scrm-workflows"}
        roles_used = {json.dumps(m["Properties"]["RoleArn"]) for m in machines}
        assert not [r for r in roles_used if "Fn::GetAtt" in r], tenant_id
        # no Lambda permission on a platform function, no EventBridge rule
        assert of_type(raw, "AWS::Lambda::Permission") == {}, tenant_id
        assert of_type(raw, "AWS::Events::Rule") == {}, tenant_id
        # and nothing of the table: the tenant's fence is the platform's roles' session tag
        assert TABLE_ARN_EXPORT not in json.dumps(raw["Resources"]), tenant_id


def test_the_platform_still_exports_the_table_for_earlier_tenant_stacks(platform_raw: dict[str, Any]) -> None:
    output = platform_raw["Outputs"]["TableArn"]
    assert output["Export"] == {"Name": TABLE_ARN_EXPORT}
    (table_id,) = of_type(platform_raw, "AWS::DynamoDB::Table")
    assert output["Value"] == {"Fn::GetAtt": [table_id, "Arn"]}


def _rendered(value: Any) -> Any:
    """A policy document with every ``Fn::Join`` flattened (pseudo parameters as ``<name>``, longer
    than their values: the size measured is an upper bound)."""
    if isinstance(value, dict) and set(value) & {"Fn::Join", "Ref", "Fn::GetAtt"}:
        return _flatten(value)
    if isinstance(value, dict):
        return {k: _rendered(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v) for v in value]
    return value


def test_the_shared_roles_policies_stay_under_the_iam_size_quotas(platform_raw: dict[str, Any]) -> None:
    # A trust policy holds 2,048 characters by default (IAM quota "Role trust policy length"), and a
    # role's inline policies 10,240 together: the data role's trust names every function that writes
    roles = _roles(platform_raw)
    for name in [*(kind.role_name for kind in ACCESS.values()), "scrm-workflows"]:
        props = roles[name]
        trust = json.dumps(_rendered(props["AssumeRolePolicyDocument"]), separators=(",", ":"))
        inline = sum(
            len(json.dumps(_rendered(p["PolicyDocument"]), separators=(",", ":"))) for p in props["Policies"]
        )
        assert len(trust) < 2048, (name, len(trust))
        assert inline < 10240, (name, inline)
