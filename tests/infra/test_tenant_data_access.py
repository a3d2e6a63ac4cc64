"""The storage layer fenced to the tenant: each tenant stack's data-access roles (LeadingKeys, trust)
and the platform functions' roles, which reach tenant items only by assuming them."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.catalogue import FUNCTIONS
from infra.constructs.tenant_data import ACCESS, TABLE_ARN_EXPORT
from tests.infra.test_platform_stack import functions_by_name, of_type, statements_of_role


def _flatten(value: Any) -> str:
    """A CloudFormation string with ``Ref``/``Fn::ImportValue`` shown as ``<name>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::ImportValue" in value:
        return f"<import {value['Fn::ImportValue']}>"
    raise AssertionError(f"unexpected token {value}")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _roles(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = of_type(raw, "AWS::IAM::Role").values()  # the state machines' roles have generated names
    return {r["Properties"]["RoleName"]: r["Properties"] for r in found if "RoleName" in r["Properties"]}


def test_each_tenant_role_reaches_only_its_tenants_keys(tenant_raws: dict[str, dict[str, Any]]) -> None:
    for tenant, raw in tenant_raws.items():
        roles = _roles(raw)
        expected = {ACCESS[spec.table].role_name(tenant) for spec in FUNCTIONS}
        assert {n for n in roles if n.startswith("scrm-tenant-")} == expected
        for access in {spec.table for spec in FUNCTIONS}:
            kind = ACCESS[access]
            (policy,) = roles[kind.role_name(tenant)]["Policies"]
            (statement,) = policy["PolicyDocument"]["Statement"]
            assert statement["Effect"] == "Allow"
            assert set(_listed(statement["Action"])) == set(kind.actions)
            assert not {"dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:PartiQLSelect"} & set(
                kind.actions
            )
            assert statement["Condition"] == {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"TENANT#{tenant}#*"]}
            }
            table = f"<import {TABLE_ARN_EXPORT}>"
            resources = {_flatten(r) for r in _listed(statement["Resource"])}
            assert resources == ({table} if kind.items else set()) | {f"{table}/index/{kind.indexes}"}
        # read_write is the only kind that writes
        writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        assert writes <= set(ACCESS["read_write"].actions)
        assert not writes & (set(ACCESS["read"].actions) | set(ACCESS["open_tickets"].actions))


def test_only_the_functions_with_that_access_may_assume_a_tenant_role(
    tenant_raws: dict[str, dict[str, Any]],
) -> None:
    for tenant, raw in tenant_raws.items():
        roles = _roles(raw)
        for access in {spec.table for spec in FUNCTIONS}:
            trust = roles[ACCESS[access].role_name(tenant)]["AssumeRolePolicyDocument"]["Statement"]
            (statement,) = trust
            assert statement["Action"] == "sts:AssumeRole"  # no session tags: one role per tenant
            assert (
                _flatten(statement["Principal"]["AWS"]) == "arn:<AWS::Partition>:iam::<AWS::AccountId>:root"
            )
            callers = {_flatten(a) for a in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]}
            assert callers == {
                f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{spec.name}"
                for spec in FUNCTIONS
                if spec.table == access
            }
    # the settlement API only reads: it is trusted by the read role alone
    read_callers = {spec.name for spec in FUNCTIONS if spec.table == "read"}
    assert "scrm-settlement-api" in read_callers


def test_function_roles_hold_no_table_access_only_assume_role(platform_raw: dict[str, Any]) -> None:
    functions = functions_by_name(platform_raw)
    roles = of_type(platform_raw, "AWS::IAM::Role")
    for spec in FUNCTIONS:
        _lid, props = functions[spec.name]
        role_id = props["Role"]["Fn::GetAtt"][0]
        assert roles[role_id]["Properties"]["RoleName"] == spec.name  # what the trust policies name
        statements = statements_of_role(platform_raw, role_id)
        assert not [s for s in statements if "dynamodb:" in json.dumps(s["Action"])], spec.name
        (assume,) = [s for s in statements if "sts:" in json.dumps(s["Action"])]
        assert assume["Action"] == "sts:AssumeRole"
        pattern = ACCESS[spec.table].role_name_pattern
        assert _flatten(assume["Resource"]) == f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{pattern}"
        env = props["Environment"]["Variables"]
        assert _flatten(env["TENANT_ROLE_ARN"]) == (
            "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/scrm-tenant-{tenant}-{access}"
        )
        assert env["TENANT_DATA_ACCESS"] == ACCESS[spec.table].suffix


def test_the_platform_exports_the_table_for_the_tenant_roles(
    platform_raw: dict[str, Any], tenant_raws: dict[str, dict[str, Any]]
) -> None:
    output = platform_raw["Outputs"]["TableArn"]
    assert output["Export"] == {"Name": TABLE_ARN_EXPORT}
    (table_id,) = of_type(platform_raw, "AWS::DynamoDB::Table")
    assert output["Value"] == {"Fn::GetAtt": [table_id, "Arn"]}
    for raw in tenant_raws.values():
        assert json.dumps({"Fn::ImportValue": TABLE_ARN_EXPORT}) in json.dumps(raw["Resources"])
