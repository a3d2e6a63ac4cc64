"""Cells: a tenant file names its cell; the app gives each cell its platform stack and environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.app import Cell, CellError, build_app, cells_from, local_cell
from infra.stacks import PLATFORM_STACK
from shared.tenant import load_tenant_file


def in_cell(source: str, tmp_path: Path, tenant_id: str, cell: str | None) -> str:
    """A copy of a tenant file with another tenant id, naming `cell` (or none)."""
    text = Path(source).read_text(encoding="utf-8")
    first_id = text.split("id:", 1)[1].split()[0]
    line = f"id: {tenant_id}" + (f"\n  cell: {cell}" if cell else "")
    path = tmp_path / f"{tenant_id}.yaml"
    path.write_text(text.replace(f"id: {first_id}", line, 1), encoding="utf-8")
    return str(path)


CELLS = {"main": {}, "east": {"account": "111111111111", "region": "ap-east-1"}}


@pytest.fixture(scope="module")
def assembly(example_tenant_files: list[str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("cells")
    files = [
        in_cell(example_tenant_files[0], tmp, "west-one", None),
        in_cell(example_tenant_files[0], tmp, "east-one", "east"),
        in_cell(example_tenant_files[0], tmp, "east-two", "east"),
    ]
    return build_app(files, outdir=str(tmp / "out"), bundle=False, cells=cells_from(CELLS)).synth()


def test_each_cell_has_its_platform_and_its_tenants_deploy_with_it(assembly: Any) -> None:
    stacks = {s.stack_name: s for s in assembly.stacks}
    ids = {s.id for s in assembly.stacks}
    assert set(stacks) == {
        PLATFORM_STACK,
        f"{PLATFORM_STACK}-east",
        "ScrmTenant-west-one",
        "ScrmTenant-east-one",
        "ScrmTenant-east-two",
    }
    for tenant, platform in (
        ("ScrmTenant-west-one", PLATFORM_STACK),
        ("ScrmTenant-east-one", f"{PLATFORM_STACK}-east"),
        ("ScrmTenant-east-two", f"{PLATFORM_STACK}-east"),
    ):
        assert [d.id for d in stacks[tenant].dependencies if d.id in ids] == [stacks[platform].id]
    east = stacks["ScrmTenant-east-one"].environment
    assert (east.account, east.region) == ("111111111111", "ap-east-1")
    assert stacks[f"{PLATFORM_STACK}-east"].environment.region == "ap-east-1"
    assert stacks[PLATFORM_STACK].environment.account.startswith("unknown")  # the CLI's credentials


def test_scrm_synth_lists_stacks_by_cell(assembly: Any) -> None:
    from infra.cli import _stacks_by_cell

    grouped = {cell: [s.stack_name for s in stacks] for cell, stacks in _stacks_by_cell(assembly).items()}
    assert grouped == {
        "main": [PLATFORM_STACK, "ScrmTenant-west-one"],
        "east": [f"{PLATFORM_STACK}-east", "ScrmTenant-east-one", "ScrmTenant-east-two"],
    }


def test_a_cell_the_context_lacks_is_refused_with_a_suggestion(
    example_tenant_files: list[str], tmp_path: Path
) -> None:
    file = in_cell(example_tenant_files[0], tmp_path, "lost-one", "eest")
    with pytest.raises(CellError, match=r"lost-one.*'eest'.*did you mean 'east'"):
        build_app([file], outdir=str(tmp_path / "out"), bundle=False, cells=cells_from(CELLS))


def test_two_cells_never_share_an_account() -> None:
    with pytest.raises(CellError, match="share account 111111111111"):
        cells_from({"a": {"account": "111111111111"}, "b": {"account": "111111111111", "region": "x"}})
    assert cells_from(None) == {"main": Cell("main")}


def test_the_local_twin_runs_one_cell(example_tenant_files: list[str], tmp_path: Path) -> None:
    one = load_tenant_file(in_cell(example_tenant_files[0], tmp_path, "east-one", "east"))
    other = load_tenant_file(in_cell(example_tenant_files[0], tmp_path, "west-one", None))
    assert local_cell([one]) == {"east": Cell("east")}
    with pytest.raises(CellError, match="one cell"):
        local_cell([one, other])


def test_a_cell_name_must_be_able_to_name_a_stack(example_tenant_files: list[str], tmp_path: Path) -> None:
    from shared.tenant import TenantConfigError

    with pytest.raises(TenantConfigError, match=r"tenant\.cell"):
        load_tenant_file(in_cell(example_tenant_files[0], tmp_path, "bad-cell", "East_1"))
