"""The tenant stacks' templates: state machines, versions, aliases, config parameters."""

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


def test_state_machine_role_invokes_exactly_the_named_functions(
    tenant_raws: dict[str, dict[str, Any]],
) -> None:
    for raw in tenant_raws.values():
        machines = of_type(raw, "AWS::StepFunctions::StateMachine").values()
        (role_id,) = {m["Properties"]["RoleArn"]["Fn::GetAtt"][0] for m in machines}
        named = {
            function_name_of(v) for m in machines for v in m["Properties"]["DefinitionSubstitutions"].values()
        }
        role = raw["Resources"][role_id]["Properties"]
        assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
            {"Service": "states.amazonaws.com"}
        ]
        statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
        (invoke,) = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
        resources = invoke["Resource"] if isinstance(invoke["Resource"], list) else [invoke["Resource"]]
        assert {function_name_of(r) for r in resources} == named


def test_config_parameters_decode_to_the_tenant(synth: Any, tenant_raws: dict[str, dict[str, Any]]) -> None:
    from shared.tenant.transport import decode_config

    for tenant_id, raw in tenant_raws.items():
        params = {
            p["Properties"]["Name"]: p["Properties"] for p in of_type(raw, "AWS::SSM::Parameter").values()
        }
        assert params, tenant_id
        for name, props in params.items():
            assert name.startswith(f"/scrm/tenants/{tenant_id}/config/")
            assert props["Type"] == "String"
            assert props["Tier"] == "Standard"
            assert len(props["Value"]) <= 4096
        decoded = decode_config({name: props["Value"] for name, props in params.items()})
        assert decoded.tenant.id == tenant_id
        assert decoded == synth.configs[tenant_id]


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


def test_technicians_are_seeded_at_deploy_by_one_sdk_call(tenant_raws: dict[str, dict[str, Any]]) -> None:
    from shared.repositories.technicians import roster_digest
    from shared.tenant import load_tenant_file
    from tests.factories import EXAMPLES

    for tenant_id, raw in tenant_raws.items():
        cfg = load_tenant_file(str(EXAMPLES / f"{tenant_id}.yaml"))
        resources = raw["Resources"]
        (logical, seed), *rest = [(k, r) for k, r in resources.items() if r["Type"] == "Custom::AWS"]
        assert not rest, tenant_id
        # one Lambda invoke of scrm-dispatch-seed with the deployed roster's digest, on create and update
        digest = roster_digest(list(cfg.technicians))
        for phase in ("Create", "Update"):
            _sep, parts = seed["Properties"][phase]["Fn::Join"]
            call = json.loads("".join(p if isinstance(p, str) else "X" for p in parts))
            assert (call["service"], call["action"]) == ("Lambda", "invoke")
            assert call["parameters"]["FunctionName"].endswith(":function:scrm-dispatch-seed")
            payload = json.loads(call["parameters"]["Payload"])
            assert payload == {"op": "seed_technicians", "tenant": tenant_id, "roster": digest}
            assert call["physicalResourceId"]["id"] == f"technicians-{tenant_id}-{digest}"
        # after the configuration and the tenant's data roles exist
        depends = set(seed.get("DependsOn", []))
        kinds = {resources[d]["Type"] for d in depends}
        assert {"AWS::SSM::Parameter", "AWS::IAM::Role"} <= kinds, kinds
        # the provider may invoke exactly that function
        policies = [r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"]
        seed_policy = next(p for p in policies if logical[:20] in json.dumps(p) or "Seed" in json.dumps(p))
        statements = seed_policy["Properties"]["PolicyDocument"]["Statement"]
        assert [s["Action"] for s in statements] == ["lambda:InvokeFunction"]
        assert "function:scrm-dispatch-seed" in json.dumps(statements[0]["Resource"])
