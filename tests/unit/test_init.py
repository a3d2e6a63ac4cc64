"""``scrm init`` (issue 18): templates listed, answers asked on a terminal or taken from flags,
wrong answers named, files never overwritten by accident, secrets of the right shape."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
import yaml

from infra.cli import main as scrm
from infra.init import gather, list_templates, render
from shared.templates import find, secret_references, templates


def _args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "list": False, "template": None, "tenant_id": None, "name": None, "timezone": None,
        "holidays": None, "out": None, "force": False, "no_input": False,
    }  # fmt: skip
    values.update(given)
    return argparse.Namespace(**values)


def test_the_manifest_lists_six_templates_in_its_order_each_with_a_file() -> None:
    names = [t.name for t in templates()]
    assert names == [
        "home-appliance",
        "auto-dealer",
        "education",
        "ecommerce-aftersales",
        "restaurant-complaints",
        "property-maintenance",
    ]
    for template in templates():
        assert template.path.exists(), template.file
        assert len(template.description) <= 100


def test_list_shows_each_template_on_one_line() -> None:
    out = io.StringIO()
    assert list_templates(out) == 0
    lines = out.getvalue().splitlines()
    for template in templates():
        (line,) = [line for line in lines if line.strip().startswith(template.name + " ")]
        assert template.title in line and template.description in line


def test_a_terminal_is_asked_and_wrong_answers_are_asked_again() -> None:
    said = iter(["9", "auto-dealer", "Bad Id", "star-auto", "星辰汽车", "Asia/Shangai", "", "XX", "CN"])
    out = io.StringIO()
    answers, problems = gather(_args(), interactive=True, read=lambda _q: next(said), out=out)
    assert problems == [] and answers is not None
    assert (answers.template.name, answers.tenant_id, answers.tenant_name) == (
        "auto-dealer",
        "star-auto",
        "星辰汽车",
    )
    assert (answers.timezone, answers.holidays) == ("Asia/Shanghai", "CN")  # "" takes the default
    assert answers.out == Path("star-auto.yaml")
    shown = out.getvalue()
    assert "no template '9'" in shown and "must be 3-32" in shown
    assert "did you mean 'Asia/Shanghai'" in shown and "unknown holiday country 'XX'" in shown


def test_flags_with_wrong_values_name_each_flag_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = scrm(
        ["init", "--template", "education", "--tenant-id", "X", "--timezone", "Mars/Base", "--no-input"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--tenant-id:" in err and "--timezone:" in err
    assert scrm(["init", "--template", "nope", "--no-input"]) == 2
    assert "no template 'nope'; known: home-appliance" in capsys.readouterr().err
    assert scrm(["init", "--template", "property", "--no-input"]) == 2
    assert "(did you mean 'property-maintenance'?)" in capsys.readouterr().err
    assert scrm(["init", "--no-input"]) == 2  # a script must say which template
    assert "--template: which one?" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # no abbreviations: --tenant is not --tenant-id
        scrm(["init", "--template", "education", "--tenant", "x", "--no-input"])


def test_init_writes_the_tenant_and_its_secrets_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tenants" / "star-auto.yaml"
    argv = ["init", "--template", "auto-dealer", "--tenant-id", "star-auto", "--name", "星辰: 汽车",
            "--timezone", "Asia/Chongqing", "--out", str(out), "--no-input"]  # fmt: skip
    assert scrm(argv) == 0
    printed = capsys.readouterr().out
    assert f"scrm local {out}" in printed and f"scrm validate {out}" in printed
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["tenant"]["id"] == "star-auto" and data["tenant"]["name"] == "星辰: 汽车"  # quoted as needed
    assert data["tenant"]["timezone"] == "Asia/Chongqing"
    assert all(cal["timezone"] == "Asia/Chongqing" for cal in data["calendars"].values())
    assert "# " in out.read_text(encoding="utf-8")  # the template's comments are kept
    secrets = yaml.safe_load((tmp_path / "tenants" / "star-auto.secrets.yaml").read_text(encoding="utf-8"))
    assert set(secrets) == {name for name, _kind in secret_references(data)}
    assert all(name.startswith("/scrm/star-auto/") for name in secrets)
    before = out.read_text(encoding="utf-8")
    assert scrm([*argv[:-1], "--template", "education", "--no-input"]) == 1
    assert " exist; " in capsys.readouterr().err and out.read_text(encoding="utf-8") == before
    assert scrm([*argv, "--force"]) == 0


@pytest.mark.parametrize("name", [t.name for t in templates()])
def test_each_templates_secrets_have_the_shapes_their_platforms_issue(name: str) -> None:
    from shared.templates import made_up_value

    data = yaml.safe_load(find(name).render())
    for _ssm, kind in secret_references(data):
        value = made_up_value(kind)
        if kind == "wecom.aes_key":
            assert len(value) == 43
        elif kind.endswith(("standard-webhooks.secret", "subscription.secret")):
            assert value.startswith("whsec_")
        else:
            assert len(value) >= 16


def test_a_literal_placeholder_left_in_a_template_fails_the_render() -> None:
    for template in templates():
        text = render_defaults(template.name)
        assert "${" not in text, template.name


def render_defaults(name: str) -> str:
    template = find(name)
    from infra.init import Answers

    return render(
        Answers(
            template,
            template.tenant_id,
            template.tenant_name,
            template.timezone,
            template.holidays,
            Path("x"),
        )
    )
