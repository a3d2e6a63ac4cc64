"""cfn-lint on every synthesized template: no errors or warnings.

Linted for the platform's home regions. One rule is ignored, with its reason:
W3005 (a DependsOn that a GetAtt already implies): CDK adds the function's role to DependsOn
next to its default policy; the redundancy is harmless and not ours to change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from tests.infra.conftest import Synth

REGIONS = ["us-east-1", "ap-southeast-1", "eu-central-1"]
IGNORED = ["W3005"]


def _findings(template: dict[str, Any]) -> list[str]:
    matches = lint(json.dumps(template), regions=REGIONS, config=ManualArgs(ignore_checks=IGNORED))
    return [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id[0] in "EW"
    ]


def test_platform_template_passes_cfn_lint(synth: Synth) -> None:
    from infra.stacks import PLATFORM_STACK

    assert _findings(synth.raw(PLATFORM_STACK)) == []


@pytest.mark.parametrize("index", [0, 1])
def test_tenant_templates_pass_cfn_lint(synth: Synth, index: int) -> None:
    from infra.stacks import tenant_stack_id

    tenant = sorted(synth.configs)[index]
    assert _findings(synth.raw(tenant_stack_id(tenant))) == []
