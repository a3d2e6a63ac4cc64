"""Deploy synthesized CloudFormation templates into moto, emulating what moto cannot deploy.

moto's CloudFormation deploys most of our resources (tables, queues, roles, functions, SSM
parameters, topics, log groups). For the rest the twin does what AWS would, through the
service APIs or in the twin itself, and says so in its log:

- ``AWS::StepFunctions::StateMachine`` / ``Version`` / ``Alias``: created through the Step
  Functions API (moto's CloudFormation keeps state machines apart from the backend that
  executes them), with the definition substitutions resolved by moto itself;
- ``AWS::ApiGatewayV2::*``: served by the twin's HTTP server from the template's routes;
- ``AWS::Scheduler::ScheduleGroup``: created through the Scheduler API; the twin's clock fires;
- ``AWS::Lambda::EventSourceMapping``: the twin polls the queue (or the table's stream:
  ``streams.py``) and calls the function;
- ``AWS::Lambda::Function`` code: replaced by a stub archive; the handler runs in-process;
- ``AWS::Cognito::*``: replaced by the twin's own JWT issuer (``/_local/token``);
- ``AWS::Lambda::EventInvokeConfig``: kept by the twin (``StackDeployment.invoke_configs``) for the
  events it delivers to functions asynchronously (retries, on-failure destination; ``rules.py``);
- ``Custom::ScrmTenant``: kept (``StackDeployment.custom_resources``) with the version ``Ref``s of its
  ``Live`` map resolved to the ARNs the emulated versions got; once the functions run, the twin sends
  the provider function a CloudFormation request and takes its answer as CloudFormation would.

Anything else moto lacks is listed as "not emulated" with its logical id: never dropped silently.
The web console's AWS resources (``AWS_ONLY``: CloudFront, the hosted UI's domain, the
``BucketDeployment`` with the handler it calls and that handler's AWS CLI layer) are not deployed
either, and listed with their reason: the twin serves the console at ``/app/`` itself.
References to removed resources are replaced by the values the emulation gives them; values
that emulated resources need from deployed ones are read back through extra stack outputs.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.cloudformation.parsing import get_model_map

ACCOUNT = "123456789012"
REGION = "us-east-1"
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")

# Emulated by the twin: type -> what it does instead.
EMULATED = {
    "AWS::StepFunctions::StateMachine": "created through the Step Functions API",
    "AWS::StepFunctions::StateMachineVersion": "published at creation (runs on the machine)",
    "AWS::StepFunctions::StateMachineAlias": "created through the Step Functions API",
    "AWS::ApiGatewayV2::Api": "served by the twin's HTTP server",
    "AWS::ApiGatewayV2::Route": "served by the twin's HTTP server",
    "AWS::ApiGatewayV2::Integration": "served by the twin's HTTP server (in-process Lambda)",
    "AWS::ApiGatewayV2::Authorizer": "JWTs checked by the twin (issuer /_local/token)",
    "AWS::ApiGatewayV2::Stage": "served by the twin's HTTP server ($default stage)",
    "AWS::Scheduler::ScheduleGroup": "created through the Scheduler API; fired by the twin's clock",
    "AWS::Lambda::EventSourceMapping": "the twin polls the queue or stream and calls the function in-process",
    "AWS::Cognito::UserPool": "replaced by the twin's JWT issuer (/_local/token)",
    "AWS::Cognito::UserPoolClient": "replaced by the twin's JWT issuer (/_local/token)",
    "Custom::ScrmTenant": (
        "its Create goes to the provider function in-process once the functions run; the answer is "
        "PUT to the twin (/_local/cloudformation), as to CloudFormation's response URL"
    ),
    "AWS::Lambda::EventInvokeConfig": "applied to the events the twin delivers (retries, on-failure queue)",
}

_CONSOLE = "AWS only: the twin serves the console at /app/ itself"
# Not deployed into moto, nothing emulates them: type -> why (listed when the twin starts).
AWS_ONLY = {
    "AWS::CloudFront::Distribution": _CONSOLE,
    "AWS::CloudFront::Function": _CONSOLE,
    "AWS::CloudFront::OriginAccessControl": _CONSOLE,
    "AWS::Cognito::UserPoolDomain": _CONSOLE,
    "Custom::CDKBucketDeployment": _CONSOLE,
}


def _aws_only(resources: dict[str, Any]) -> dict[str, str]:
    """Logical id -> why, for the resources of ``AWS_ONLY`` types plus what only a
    ``Custom::CDKBucketDeployment`` uses: the handler it calls and the handler's layers (the AWS CLI,
    an asset moto cannot read)."""
    found = {lid: AWS_ONLY[r["Type"]] for lid, r in resources.items() if r["Type"] in AWS_ONLY}
    for logical in list(found):
        if resources[logical]["Type"] != "Custom::CDKBucketDeployment":
            continue
        for handler in _refs(resources[logical].get("Properties", {}).get("ServiceToken")):
            if resources.get(handler, {}).get("Type") == "AWS::Lambda::Function":
                found[handler] = found[logical]
                for layer in _refs(resources[handler].get("Properties", {}).get("Layers")):
                    found[layer] = found[logical]
    return found


@dataclass
class Route:
    method: str
    path: str
    function: str
    authorized: bool


@dataclass
class CustomResource:
    """A custom resource of a deployed stack, as the twin keeps it to send its requests."""

    logical_id: str
    type: str
    properties: dict[str, Any]  # as CloudFormation sends them (ServiceToken included), refs resolved
    physical_id: str | None = None  # from the provider's last answer


@dataclass
class StackDeployment:
    name: str
    outputs: dict[str, str] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    state_machines: dict[str, str] = field(default_factory=dict)  # name -> arn
    event_sources: list[tuple[str, str, int]] = field(default_factory=list)  # queue url, function, batch
    # event source mappings on a table's stream: their properties (infra/twin/streams.py polls them)
    stream_sources: list[dict[str, Any]] = field(default_factory=list)
    custom_resources: list[CustomResource] = field(default_factory=list)  # Custom::ScrmTenant
    # function name -> {"retries": n, "on_failure": queue ARN or None} (AWS::Lambda::EventInvokeConfig)
    invoke_configs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _is_intrinsic(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and len(node) == 1
        and next(iter(node))
        in (
            "Ref",
            "Fn::GetAtt",
            "Fn::Sub",
            "Fn::Join",
            "Fn::Select",
            "Fn::Split",
            "Fn::ImportValue",
            "Fn::If",
            "Fn::Base64",
            "Fn::GetAZs",
        )
    )


def _refs(node: Any) -> set[str]:
    """Logical ids a template fragment refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        if "Fn::GetAtt" in node:
            target = node["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            found.update(m.group(1) for m in _SUB_REF.finditer(text))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return {r for r in found if not r.startswith("AWS::")}


def _replace(node: Any, values: dict[str, dict[str, str]]) -> Any:
    """Replace Ref / GetAtt / ${X} of removed resources by their emulated values."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]["Ref"]
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            logical, attr = (target[0], target[1]) if isinstance(target, list) else str(target).split(".", 1)
            if logical in values:
                return values[logical].get(attr, values[logical]["Ref"])
        if set(node) == {"Fn::Sub"}:
            text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]

            def sub(match: re.Match[str]) -> str:
                logical, attr = match.group(1), match.group(2)
                if logical in values and logical not in variables:
                    return values[logical].get(attr or "Ref", values[logical]["Ref"])
                return match.group(0)

            text = _SUB_REF.sub(sub, text)
            return {"Fn::Sub": text if not variables else [text, _replace(variables, values)]}
        return {k: _replace(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, values) for v in node]
    return node


def _emulated_values(logical: str, resource: dict[str, Any], port: int) -> dict[str, str]:
    props = resource.get("Properties", {})
    kind = resource["Type"]
    states = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
    if kind == "AWS::StepFunctions::StateMachine":
        arn = states + str(props.get("StateMachineName", logical))
        return {"Ref": arn, "Arn": arn, "Name": str(props.get("StateMachineName", logical))}
    if kind == "AWS::ApiGatewayV2::Api":
        return {"Ref": "local", "ApiEndpoint": f"http://127.0.0.1:{port}", "ApiId": "local"}
    if kind == "AWS::Scheduler::ScheduleGroup":
        name = str(props.get("Name", logical))
        return {"Ref": name, "Arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{name}"}
    if kind == "AWS::Cognito::UserPool":
        pool = f"{REGION}_local"
        return {
            "Ref": pool,
            "Arn": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool}",
            "ProviderURL": f"http://127.0.0.1:{port}/_local",
            "ProviderName": "local",
        }
    if kind == "AWS::StepFunctions::StateMachineVersion":
        return {"Ref": f"local-{logical}", "Arn": f"local-{logical}"}  # the real ARN is known once published
    return {"Ref": f"local-{logical}", "Arn": f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}"}


def _resolve_later(node: Any, kept: set[str], outputs: dict[str, Any], counter: list[int]) -> Any:
    """Turn intrinsics over deployed resources into ``{"TwinOutput": key}`` read back after deploy."""
    if _is_intrinsic(node) and _refs(node) <= kept:
        counter[0] += 1
        key = f"TwinValue{counter[0]}"
        outputs[key] = {"Value": node}
        return {"TwinOutput": key}
    if isinstance(node, dict):
        return {k: _resolve_later(v, kept, outputs, counter) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_later(v, kept, outputs, counter) for v in node]
    return node


def _fill(node: Any, outputs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"TwinOutput"}:
            return outputs[node["TwinOutput"]]
        return {k: _fill(v, outputs) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, outputs) for v in node]
    return node


def _route_path(route_key: str) -> tuple[str, str]:
    method, _, path = route_key.partition(" ")
    return method, path


class Deployer:
    """Deploys one stack template at a time into the running moto."""

    def __init__(self, port: int, log: Callable[[str], None]) -> None:
        self.port = port
        self.log = log
        self.supported = set(get_model_map())
        self.cfn = boto3.client("cloudformation", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.scheduler = boto3.client("scheduler", region_name=REGION)
        self.lambda_ = boto3.client("lambda", region_name=REGION)

    def deploy(self, stack_name: str, template: dict[str, Any]) -> StackDeployment:
        template = copy.deepcopy(template)
        template.pop("Rules", None)
        template.get("Parameters", {}).pop("BootstrapVersion", None)
        resources: dict[str, Any] = template.get("Resources", {})
        removed: dict[str, dict[str, Any]] = {}
        aws_only = _aws_only(resources)
        for logical, resource in list(resources.items()):
            kind = resource["Type"]
            if logical in aws_only:
                removed[logical] = resources.pop(logical)
            elif kind == "AWS::CDK::Metadata":
                del resources[logical]
            elif kind in EMULATED or kind not in self.supported:
                removed[logical] = resources.pop(logical)
            elif kind == "AWS::Lambda::Function":
                resource["Properties"]["Code"] = {"ZipFile": "# runs in-process in the local twin\n"}
            elif kind == "AWS::SSM::Parameter" and isinstance(resource["Properties"].get("Tags"), dict):
                # CloudFormation gives SSM parameter tags as a map; moto 5 expects a Key/Value list.
                tags = resource["Properties"]["Tags"]
                resource["Properties"]["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        values = {lid: _emulated_values(lid, res, self.port) for lid, res in removed.items()}
        for resource in resources.values():
            depends = resource.get("DependsOn")
            if depends:
                depends = [
                    d for d in ([depends] if isinstance(depends, str) else depends) if d not in removed
                ]
                resource["DependsOn"] = depends
                if not depends:
                    del resource["DependsOn"]
        template = _replace(template, values)
        resources = template.get("Resources", {})
        removed = _replace(removed, values)
        kept = set(resources)
        extra: dict[str, Any] = {}
        removed = _resolve_later(removed, kept, extra, [0])
        template.setdefault("Outputs", {})
        template["Outputs"] = {k: v for k, v in template["Outputs"].items() if _refs(v) <= kept} | extra
        self.cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))
        status = self.cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if status["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"{stack_name}: {status['StackStatus']} {status.get('StackStatusReason', '')}")
        self._apply_versioning(stack_name, resources)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in status.get("Outputs", [])}
        removed = _fill(removed, outputs)
        deployment = StackDeployment(
            name=stack_name, outputs={k: v for k, v in outputs.items() if not k.startswith("TwinValue")}
        )
        self._emulate(removed, deployment)
        for kind in sorted({r["Type"] for lid, r in removed.items() if lid not in aws_only}):
            logicals = [lid for lid, r in removed.items() if r["Type"] == kind and lid not in aws_only]
            if kind in EMULATED:
                self.log(f"  emulated: {len(logicals)} x {kind}: {EMULATED[kind]}")
            else:
                self.log(
                    f"  not emulated: {len(logicals)} x {kind} (no local behaviour; AWS only): "
                    + ", ".join(logicals)
                )
        for reason in sorted(set(aws_only.values())):
            logicals = [lid for lid, why in aws_only.items() if why == reason]
            kinds = sorted({removed[lid]["Type"] for lid in logicals})
            self.log(
                f"  not emulated: {len(logicals)} x {', '.join(kinds)} ({reason}): {', '.join(logicals)}"
            )
        self.log(f"  {stack_name}: {len(kept)} resources deployed by moto, {len(removed)} emulated")
        return deployment

    def _apply_versioning(self, stack_name: str, resources: dict[str, Any]) -> None:
        """moto's CloudFormation ignores a bucket's ``VersioningConfiguration``: apply it through the
        S3 API, as AWS would have (the tenants' config bucket keeps every deploy's object)."""
        wanted = {
            logical: str(resource["Properties"]["VersioningConfiguration"]["Status"])
            for logical, resource in resources.items()
            if resource["Type"] == "AWS::S3::Bucket"
            and (resource.get("Properties") or {}).get("VersioningConfiguration")
        }
        if not wanted:
            return
        s3 = boto3.client("s3", region_name=REGION)
        for found in self.cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
            status = wanted.get(found["LogicalResourceId"])
            if status is not None:
                s3.put_bucket_versioning(
                    Bucket=found["PhysicalResourceId"], VersioningConfiguration={"Status": status}
                )
        self.log(
            f"  versioning of {len(wanted)} bucket(s) set through the S3 API (moto's CloudFormation skips it)"
        )

    def _emulate(self, removed: dict[str, dict[str, Any]], deployment: StackDeployment) -> None:
        by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for logical, res in removed.items():
            by_type.setdefault(res["Type"], []).append((logical, res.get("Properties", {})))
        versions: dict[str, str] = {}
        published = {
            str(p["StateMachineArn"]): lid
            for lid, p in by_type.get("AWS::StepFunctions::StateMachineVersion", [])
        }
        for _logical, props in by_type.get("AWS::StepFunctions::StateMachine", []):
            definition = props["DefinitionString"]
            for key, value in (props.get("DefinitionSubstitutions") or {}).items():
                definition = definition.replace("${" + key + "}", str(value))
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{props['StateMachineName']}"
            version_logical = published.get(arn)
            # moto does not implement PublishStateMachineVersion: publish at creation instead.
            answer = self.sfn.create_state_machine(
                name=props["StateMachineName"],
                definition=definition,
                roleArn=props["RoleArn"],
                type=props.get("StateMachineType", "STANDARD"),
                publish=version_logical is not None,
            )
            deployment.state_machines[props["StateMachineName"]] = answer["stateMachineArn"]
            if version_logical is not None:
                versions[f"local-{version_logical}"] = answer["stateMachineVersionArn"]
        for _logical, props in by_type.get("AWS::StepFunctions::StateMachineAlias", []):
            routing = props.get("RoutingConfiguration") or [
                {
                    "StateMachineVersionArn": props["DeploymentPreference"]["StateMachineVersionArn"],
                    "Weight": 100,
                }
            ]
            self.sfn.create_state_machine_alias(
                name=props["Name"],
                routingConfiguration=[
                    {
                        "stateMachineVersionArn": versions.get(
                            r["StateMachineVersionArn"], r["StateMachineVersionArn"]
                        ),
                        "weight": r["Weight"],
                    }
                    for r in routing
                ],
            )
        for _logical, props in by_type.get("AWS::Scheduler::ScheduleGroup", []):
            self.scheduler.create_schedule_group(Name=props["Name"])
        integrations = {lid: p for lid, p in by_type.get("AWS::ApiGatewayV2::Integration", [])}
        for _logical, props in by_type.get("AWS::ApiGatewayV2::Route", []):
            target = str(props.get("Target", ""))
            integration = integrations.get(target.removeprefix("integrations/").removeprefix("local-"), {})
            uri = str(integration.get("IntegrationUri", ""))
            method, path = _route_path(props["RouteKey"])
            deployment.routes.append(
                Route(
                    method=method,
                    path=path,
                    function=uri.rsplit(":", 1)[-1],
                    authorized=props.get("AuthorizationType", "NONE") != "NONE",
                )
            )
        for logical, props in by_type.get("Custom::ScrmTenant", []):
            # CloudFormation resolves each version's Ref to the ARN the deploy published
            live = {t: versions.get(str(v), str(v)) for t, v in (props.get("Live") or {}).items()}
            deployment.custom_resources.append(
                CustomResource(logical, "Custom::ScrmTenant", {**props, "Live": live})
            )
        for _logical, props in by_type.get("AWS::Lambda::EventInvokeConfig", []):
            function = str(props["FunctionName"]).rsplit(":function:", 1)[-1].split(":")[0]
            on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            deployment.invoke_configs[function] = {
                "retries": int(props.get("MaximumRetryAttempts", 2)),
                "on_failure": str(on_failure) if on_failure else None,
            }
        for _logical, props in by_type.get("AWS::Lambda::EventSourceMapping", []):
            if ":dynamodb:" in str(props["EventSourceArn"]):  # a table's stream (infra/twin/streams.py)
                deployment.stream_sources.append(props)
                continue
            queue_arn = str(props["EventSourceArn"])
            queue_name = queue_arn.rsplit(":", 1)[-1]
            url = boto3.client("sqs", region_name=REGION).get_queue_url(QueueName=queue_name)["QueueUrl"]
            deployment.event_sources.append(
                (url, str(props["FunctionName"]).rsplit(":", 1)[-1], int(props.get("BatchSize", 10)))
            )
