"""Deploy-time quota checks: what AWS would refuse at deploy, the twin refuses at start.

moto creates as many roles, rules, parameters and permissions as it is asked to, so a platform
that adds one per tenant deploys in the twin until the day AWS refuses it (the 51st tenant's
Lambda permission, the 301st rule). After the stacks are deployed the twin counts what they made,
in the embedded AWS itself (roles and the size of their trust and inline policies, function
policies, rules per bus, SSM parameters) and in the
templates (resources per stack, which CloudFormation counts before creating anything), against
the quotas of ``infra/quotas.py``, and fails its start with every quota exceeded, each named with
its figure, the limit and where it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from infra.quotas import quota


class QuotaExceeded(RuntimeError):
    """The deployed stacks exceed an AWS quota: AWS would refuse (or soon refuse) this deploy."""


@dataclass(frozen=True)
class Usage:
    """One measured figure against its quota."""

    quota: str
    what: str
    used: float
    limit: float
    unit: str

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def line(self) -> str:
        q = quota(self.quota)
        return (
            f"{self.what}: {self.used:,.0f} {self.unit} > {self.limit:,.0f} "
            f"({q.service} {q.name}, '{q.source}')"
        )


def measure(region: str, templates: Mapping[str, Mapping[str, Any]]) -> list[Usage]:
    """Every deploy-time figure the checks compare, from the embedded AWS and the templates."""
    found: list[Usage] = []
    iam = boto3.client("iam", region_name=region)
    roles = [role for page in iam.get_paginator("list_roles").paginate() for role in page["Roles"]]
    found.append(
        Usage("iam:roles", "IAM roles in the account", len(roles), quota("iam:roles").value, "roles")
    )
    trust, inline = quota("iam:role-trust-policy").value, quota("iam:role-inline-policies").value
    for role in roles:
        name = role["RoleName"]
        found.append(
            Usage(
                "iam:role-trust-policy",
                f"trust policy of role {name}",
                _characters(role.get("AssumeRolePolicyDocument")),
                trust,
                "characters",
            )
        )
        policies = iam.list_role_policies(RoleName=name).get("PolicyNames", [])
        size = sum(
            _characters(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]) for p in policies
        )
        found.append(
            Usage("iam:role-inline-policies", f"inline policies of role {name}", size, inline, "characters")
        )

    lambdas = boto3.client("lambda", region_name=region)
    limit = quota("lambda:resource-policy").value
    for page in lambdas.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            size = _policy_size(lambdas, fn["FunctionName"])
            found.append(
                Usage(
                    "lambda:resource-policy",
                    f"resource policy of function {fn['FunctionName']}",
                    size,
                    limit - 1,  # "less than 20 KB"
                    "bytes",
                )
            )

    events = boto3.client("events", region_name=region)
    buses = [b["Name"] for b in events.list_event_buses().get("EventBuses", [])] or ["default"]
    for bus in buses:
        rules = _count_rules(events, bus)
        found.append(
            Usage(
                "events:rules-per-bus",
                f"EventBridge rules on bus {bus}",
                rules,
                quota("events:rules-per-bus").value,
                "rules",
            )
        )

    ssm = boto3.client("ssm", region_name=region)
    parameters = sum(
        1
        for page in ssm.get_paginator("describe_parameters").paginate()
        for p in page["Parameters"]
        if p.get("Tier", "Standard") == "Standard"
    )
    found.append(
        Usage(
            "ssm:standard-parameters",
            "standard SSM parameters",
            parameters,
            quota("ssm:standard-parameters").value,
            "parameters",
        )
    )

    per_stack = quota("cloudformation:resources-per-stack").value
    for name, template in sorted(templates.items()):
        count = len(template.get("Resources") or {})
        found.append(
            Usage(
                "cloudformation:resources-per-stack",
                f"resources of stack {name}",
                count,
                per_stack,
                "resources",
            )
        )
    found.append(
        Usage(
            "cloudformation:stacks",
            "CloudFormation stacks",
            len(templates),
            quota("cloudformation:stacks").value,
            "stacks",
        )
    )
    return found


def enforce(region: str, templates: Mapping[str, Mapping[str, Any]]) -> list[Usage]:
    """:func:`measure`, then raise :class:`QuotaExceeded` naming every quota exceeded."""
    usage = measure(region, templates)
    over = [u for u in usage if u.exceeded]
    if over:
        raise QuotaExceeded(
            "the deployed stacks exceed AWS default quotas (AWS would refuse this deploy):\n  "
            + "\n  ".join(u.line() for u in over)
        )
    return usage


def _policy_size(client: Any, function: str) -> int:
    """Bytes of the function's resource-based policy as Lambda stores it (0: no policy)."""
    try:
        policy = client.get_policy(FunctionName=function)["Policy"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return 0
        raise
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return len(text.encode("utf-8"))


def _characters(document: Any) -> int:
    """Characters of a policy document as IAM counts them (whitespace does not count)."""
    if document is None:
        return 0
    if isinstance(document, str):
        from urllib.parse import unquote

        text = unquote(document)
        try:
            document = json.loads(text)
        except ValueError:
            return len("".join(text.split()))
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def _count_rules(client: Any, bus: str) -> int:
    count, token = 0, None
    while True:
        kwargs: dict[str, Any] = {"EventBusName": bus}
        if token:
            kwargs["NextToken"] = token
        page = client.list_rules(**kwargs)
        count += len(page.get("Rules", []))
        token = page.get("NextToken")
        if not token:
            return count
