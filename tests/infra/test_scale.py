"""Tenants add nothing per tenant that counts against an account quota (issue #16).

Synthesizes the platform and generated tenants ONCE per module (``tests/generated.py``'s
``random_tenant``, seeded per tenant: the same files every run), then counts with the capacity
model's own counter (``infra/capacity.count_resources``): per tenant stack no IAM role, no
EventBridge rule, no Lambda permission on a platform function, and the platform's resource
policies (each function's, the event bus's, the buckets') under their size quotas however many
tenants there are. 20 tenants in ``make test``; 200 in the ``slow``/``fuzz`` profile, whose
figures (seconds, resources per tenant stack, policy sizes) are printed for the scale notes.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from infra.quotas import quota
from tests.generated import random_tenant, to_yaml


def _synthesize(count: int, folder: Path) -> dict[str, Any]:
    from infra.app import build_app, load_tenants
    from infra.capacity import count_resources
    from infra.constructs.workflows import pascal
    from infra.stacks import PLATFORM_STACK

    files: list[str] = []
    skipped: list[str] = []
    seed = 0
    while len(files) < count:
        tenant_id = f"scale-{seed:04d}"
        data = random_tenant(random.Random(seed), tenant_id)
        seed += 1
        # Two ticket types with one resource name ('z-install', 'Z-install') are refused by the
        # validator; the generator no longer draws them, and a draw that did would be skipped here.
        names = [pascal(type_id) for type_id in data["ticket_types"]]
        if len(set(names)) < len(names):
            skipped.append(tenant_id)
            continue
        path = folder / f"{tenant_id}.yaml"
        path.write_text(to_yaml(data), encoding="utf-8")
        files.append(str(path))
    started = time.perf_counter()
    assembly = build_app(files, outdir=str(folder / "cdk.out"), bundle=False).synth()
    seconds = time.perf_counter() - started
    templates = {s.stack_name: json.loads(json.dumps(s.template)) for s in assembly.stacks}
    configs = {c.tenant.id: c for c in load_tenants(files)}
    counted = count_resources(templates, PLATFORM_STACK, configs)
    counted["seconds"] = round(seconds, 1)
    counted["skipped_draws"] = skipped
    counted["templates"] = templates
    return counted


@pytest.fixture(scope="module")
def twenty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synthesize(20, tmp_path_factory.mktemp("scale-20"))


def _tenant_templates(counted: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: t for name, t in counted["templates"].items() if name.startswith("ScrmTenant-")}


def _of_type(template: dict[str, Any], kind: str) -> list[str]:
    return [logical for logical, r in (template.get("Resources") or {}).items() if r.get("Type") == kind]


def test_twenty_tenants_were_synthesized(twenty: dict[str, Any]) -> None:
    assert twenty["tenants"] == 20
    assert len(_tenant_templates(twenty)) == 20


def test_a_tenant_stack_creates_no_iam_role(twenty: dict[str, Any]) -> None:
    # Given 20 generated tenants, Then no tenant stack has a role of its own (one ABAC data role
    # and one custom-resource provider serve every tenant): 1,000 roles per account never bind
    roles = {name: _of_type(t, "AWS::IAM::Role") for name, t in _tenant_templates(twenty).items()}
    assert {name: found for name, found in roles.items() if found} == {}


def test_tenants_add_no_permission_to_platform_functions(twenty: dict[str, Any]) -> None:
    # A function's resource policy is capped at 20 KB: a statement per tenant fills it at ~45 tenants
    assert twenty["lambda_permissions_added_by_tenants"] == {}


def test_a_tenant_stack_creates_no_eventbridge_rule(twenty: dict[str, Any]) -> None:
    # 300 rules per bus: platform rules fan out over tenants instead of one rule per tenant
    rules = {name: _of_type(t, "AWS::Events::Rule") for name, t in _tenant_templates(twenty).items()}
    assert {name: found for name, found in rules.items() if found} == {}


def test_the_platforms_resource_policies_stay_under_their_size_quotas(twenty: dict[str, Any]) -> None:
    limits = {
        "lambda": quota("lambda:resource-policy").value,
        "bus": quota("events:bus-policy").value,
        "bucket": quota("s3:bucket-policy").value,
    }
    too_big = {
        name: policy["bytes"]
        for name, policy in twenty["policies"].items()
        if policy["bytes"] >= limits[policy["kind"]]
    }
    assert too_big == {}
    # and none grows with the tenants: what fits for 20 fits for 1,000
    growing = {
        name: p["bytes_per_tenant"] for name, p in twenty["policies"].items() if p["bytes_per_tenant"] > 0
    }
    assert growing == {}


def test_every_tenant_stack_is_well_under_the_resources_per_stack_quota(twenty: dict[str, Any]) -> None:
    sizes = twenty["resources_per_tenant_stack"]
    assert sizes["max"] <= quota("cloudformation:resources-per-stack").value


@pytest.mark.slow
@pytest.mark.fuzz
def test_two_hundred_tenants(tmp_path_factory: pytest.TempPathFactory) -> None:
    counted = _synthesize(200, tmp_path_factory.mktemp("scale-200"))
    tenants = _tenant_templates(counted)
    figures = {
        "tenants": counted["tenants"],
        "synth_seconds": counted["seconds"],
        "skipped_draws": counted["skipped_draws"],
        "resources_per_tenant_stack": counted["resources_per_tenant_stack"],
        "per_tenant": counted["per_tenant"],
        "per_tenant_max": counted["per_tenant_max"],
        "platform": counted["platform"],
        "largest_policies": sorted(
            ({"policy": k, **v} for k, v in counted["policies"].items()), key=lambda p: -p["bytes"]
        )[:4],
        "lambda_permissions_added_by_tenants": counted["lambda_permissions_added_by_tenants"],
    }
    print("\nscale-200 figures:", json.dumps(figures, indent=2))
    assert len(tenants) == 200
    assert all(not _of_type(t, "AWS::IAM::Role") for t in tenants.values())
    assert all(not _of_type(t, "AWS::Events::Rule") for t in tenants.values())
    assert counted["lambda_permissions_added_by_tenants"] == {}
    assert all(p["bytes_per_tenant"] == 0 for p in counted["policies"].values())
