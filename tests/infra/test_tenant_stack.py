"""The tenant stacks' templates: state machines, versions, aliases, the Custom::ScrmTenant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.workflows import pascal, placeholders

# the functions a state machine may invoke (shared/workflow/compiler.py SUBSTITUTIONS)
TASK_FUNCTIONS = {"scrm-ticket-park", "scrm-ticket-step", "scrm-dispatch-assign", "scrm-settlement-settle"}


def of_type(raw: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_name}


def function_name_of(arn: Any) -> str:
    """The function name at the end of a ``Fn::Join`` function ARN."""
    return str(arn["Fn::Join"][1][-1]).rsplit(":function:", 1)[-1]


def test_one_stack_per_example_tenant(synth: Any) -> None:
    names = {stack.stack_name for stack in synth.assembly.stacks}
    assert names == {"ScrmPlatform", *(f"ScrmTenant-{tenant_id}" for tenant_id in synth.configs)}


def test_one_state_machine_per_ticket_type(synth: Any, tenant_raws: dict[str, dict[str, Any]]) -> None:
    from shared.workflow.compiler import compile_ticket_type

    for tenant_id, raw in tenant_raws.items():
        cfg = synth.configs[tenant_id]
        machines = {
            m["Properties"]["StateMachineName"]: m["Properties"]
            for m in of_type(raw, "AWS::StepFunctions::StateMachine").values()
        }
        assert set(machines) == {f"scrm-{tenant_id}-{type_id}" for type_id in cfg.ticket_types}
        for type_id in cfg.ticket_types:
            props = machines[f"scrm-{tenant_id}-{type_id}"]
            asl = compile_ticket_type(cfg, type_id)
            # the golden ASL, byte for byte; placeholders resolved by substitutions
            assert props["DefinitionString"] == asl
            assert set(props["DefinitionSubstitutions"]) == set(placeholders(asl))
            assert {function_name_of(v) for v in props["DefinitionSubstitutions"].values()} <= TASK_FUNCTIONS
            assert props["StateMachineType"] == "STANDARD"
            assert props["TracingConfiguration"] == {"Enabled": True}
            assert props["LoggingConfiguration"]["Level"] == "ERROR"
            assert props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]


def test_each_state_machine_has_a_version_and_a_live_alias(
    synth: Any, tenant_raws: dict[str, dict[str, Any]]
) -> None:
    for tenant_id, raw in tenant_raws.items():
        machines = of_type(raw, "AWS::StepFunctions::StateMachine")
        versions = of_type(raw, "AWS::StepFunctions::StateMachineVersion")
        aliases = of_type(raw, "AWS::StepFunctions::StateMachineAlias")
        assert len(machines) == len(versions) == len(aliases) == len(synth.configs[tenant_id].ticket_types)
        versioned = {v["Properties"]["StateMachineArn"]["Ref"]: lid for lid, v in versions.items()}
        assert set(versioned) == set(machines)
        for version in versions.values():
            assert version["DeletionPolicy"] == "Retain"
            assert (
                version["Properties"]["StateMachineRevisionId"]["Fn::GetAtt"][1] == "StateMachineRevisionId"
            )
        routed = set()
        for alias in aliases.values():
            assert alias["Properties"]["Name"] == "live"
            (route,) = alias["Properties"]["RoutingConfiguration"]
            assert route["Weight"] == 100
            routed.add(route["StateMachineVersionArn"]["Ref"])
        assert routed == set(versions)


def test_state_machines_run_as_the_platform_workflow_role(
    platform_raw: dict[str, Any], tenant_raws: dict[str, dict[str, Any]]
) -> None:
    from shared.workflow.compiler import SUBSTITUTIONS

    # Given the platform's one workflow role, Then it may invoke exactly what the compiler can name
    (role,) = [
        r["Properties"]
        for r in raw_roles(platform_raw)
        if r["Properties"].get("RoleName") == "scrm-workflows"
    ]
    assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "states.amazonaws.com"}
    ]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    resources = invoke["Resource"] if isinstance(invoke["Resource"], list) else [invoke["Resource"]]
    allowed = {function_name_of(r) for r in resources}
    assert allowed == set(SUBSTITUTIONS.values())
    for raw in tenant_raws.values():
        # And every tenant's state machines name it by ARN and invoke nothing it does not allow
        machines = of_type(raw, "AWS::StepFunctions::StateMachine").values()
        for machine in machines:
            arn = machine["Properties"]["RoleArn"]["Fn::Join"][1]
            assert arn[-1] == ":role/scrm-workflows", arn
        named = {
            function_name_of(v) for m in machines for v in m["Properties"]["DefinitionSubstitutions"].values()
        }
        assert named and named <= allowed


def raw_roles(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return list(of_type(raw, "AWS::IAM::Role").values())


def test_one_custom_resource_carries_the_config_and_the_versions_this_deploy_publishes(
    synth: Any, tenant_raws: dict[str, dict[str, Any]]
) -> None:
    from shared.repositories.technicians import roster_digest
    from shared.tenant.transport import decode_config

    for tenant_id, raw in tenant_raws.items():
        cfg = synth.configs[tenant_id]
        (resource,) = of_type(raw, "Custom::ScrmTenant").values()
        props = resource["Properties"]
        # the platform's one provider, named by its fixed name: nothing of it lives in the tenant stack
        assert function_name_of(props["ServiceToken"]) == "scrm-ticket-onboard"
        assert props["ServiceTimeout"] == "300"
        assert props["Tenant"] == tenant_id
        # the validated configuration, in the file's order (decode_config validates it again)
        assert decode_config(props["Config"]) == cfg
        # live: each ticket type -> the Ref of the version of its own state machine (CloudFormation
        # resolves it to the version ARN this deploy publishes)
        versions = of_type(raw, "AWS::StepFunctions::StateMachineVersion")
        assert list(props["Live"]) == list(cfg.ticket_types)
        for type_id, ref in props["Live"].items():
            machine = raw["Resources"][versions[ref["Ref"]]["Properties"]["StateMachineArn"]["Ref"]]
            assert machine["Properties"]["StateMachineName"] == f"scrm-{tenant_id}-{type_id}"
        # the provider asks scrm-dispatch-seed to seed this roster; a changed roster is an Update
        assert props["Roster"] == roster_digest(list(cfg.technicians))
        assert raw["Outputs"]["ConfigKey"]["Value"] == f"tenants/{tenant_id}/config.json.gz"


def test_a_tenant_adds_no_parameter_function_role_or_permission_for_its_configuration(
    tenant_raws: dict[str, dict[str, Any]],
) -> None:
    for tenant_id, raw in tenant_raws.items():
        kinds = {r["Type"] for r in raw["Resources"].values()}
        # no SSM chunks, no AwsCustomResource (its provider function and role in every tenant stack)
        for kind in (
            "AWS::SSM::Parameter",
            "Custom::AWS",
            "AWS::Lambda::Function",
            "AWS::Lambda::Permission",
        ):
            assert kind not in kinds, (tenant_id, kind)
        assert not [r for r in of_type(raw, "AWS::IAM::Role").values()], tenant_id
        assert "ConfigPath" not in raw["Outputs"]


def test_outputs_and_tags(synth: Any, tenant_raws: dict[str, dict[str, Any]]) -> None:
    for tenant_id, raw in tenant_raws.items():
        outputs = raw["Outputs"]
        assert outputs["TenantId"]["Value"] == tenant_id
        for type_id in synth.configs[tenant_id].ticket_types:
            ref = outputs[f"StateMachine{pascal(type_id)}Arn"]["Value"]
            assert raw["Resources"][ref["Ref"]]["Type"] == "AWS::StepFunctions::StateMachine"
        for machine in of_type(raw, "AWS::StepFunctions::StateMachine").values():
            tags = {t["Key"]: t["Value"] for t in machine["Properties"]["Tags"]}
            assert tags == {"scrm:tenant": tenant_id, "scrm:component": "workflows"}


def test_tenant_topic_and_dashboard(tenant_raws: dict[str, dict[str, Any]]) -> None:
    for tenant_id, raw in tenant_raws.items():
        (topic,) = of_type(raw, "AWS::SNS::Topic").values()
        assert topic["Properties"]["TopicName"] == f"scrm-{tenant_id}-notifications"
        (dashboard,) = of_type(raw, "AWS::CloudWatch::Dashboard").values()
        assert dashboard["Properties"]["DashboardName"] == f"scrm-tenant-{tenant_id}"
        body = json.dumps(dashboard["Properties"]["DashboardBody"])
        assert "ExecutionsStarted" in body and "ExecutionsFailed" in body


def test_bad_tenant_file_fails_with_the_loaders_error(
    tmp_path: Path, example_tenant_files: list[str]
) -> None:
    from infra.app import build_app
    from shared.tenant import TenantConfigError

    # Given a tenant file whose tenant id breaks the format
    text = Path(example_tenant_files[0]).read_text(encoding="utf-8")
    first_id = text.split("id:", 1)[1].split()[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(f"id: {first_id}", "id: Not_A_Valid_Id", 1), encoding="utf-8")
    # When the app is built / Then the loader's error names the file and the path in it
    with pytest.raises(TenantConfigError) as caught:
        build_app([str(bad)], outdir=str(tmp_path / "out"), bundle=False)
    assert "bad.yaml" in str(caught.value)
    assert "tenant.id" in str(caught.value)


def test_the_same_tenant_twice_is_refused(tmp_path: Path, example_tenant_files: list[str]) -> None:
    from infra.app import build_app
    from shared.tenant import TenantConfigError

    copy = tmp_path / "copy.yaml"
    copy.write_text(Path(example_tenant_files[0]).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(TenantConfigError, match=r"copy\.yaml"):
        build_app([example_tenant_files[0], str(copy)], outdir=str(tmp_path / "out"), bundle=False)
