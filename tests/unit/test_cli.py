"""The scrm command refuses bad tenant files, with the path of each mistake, before any synth."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cli import main

BROKEN = Path(__file__).resolve().parent.parent / "fixtures" / "tenants" / "broken.yaml"
PATHS = [
    "ticket_types.install.nodes.on_site.actions.decline",
    "ticket_types.install.nodes.follow_up",
    "technicians.t-li.regions",
    "catalog.service_items.SVC-VISIT.price",
    "sla_policies.install-standard.targets.on_site.normal",
]


@pytest.mark.parametrize("command", [["validate"], ["synth", "--no-bundle", "--out"]])
def test_bad_files_are_refused_with_every_path(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*command, str(tmp_path)] if command[-1] == "--out" else command
    assert main([*argv, str(BROKEN)]) == 1
    printed = capsys.readouterr()
    output = printed.out + printed.err
    for path in PATHS:
        assert f"broken.yaml: {path}:" in output
    assert not list(tmp_path.glob("*.template.json"))
