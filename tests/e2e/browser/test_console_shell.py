"""The console's shell: the twin serves it, the picker signs in, each role sees its own navigation."""

from __future__ import annotations

from collections.abc import Callable

from infra.twin.client import TwinClient
from tests.e2e.browser.conftest import PHONE, Page


def test_the_twin_serves_the_console_and_its_vendored_packages(anonymous: TwinClient) -> None:
    index = anonymous.request("GET", "/app/")
    assert index.status == 200
    config = anonymous.get("/app/config.json")
    assert config.body == {"apiBase": "", "auth": {"mode": "local"}}
    people = anonymous.get("/_local/people").body["tenants"]
    acme = next(t for t in people if t["id"] == "acme-home")
    assert {"id": "t-wang", "name": "王师傅", "roles": ["technician"]} in acme["people"]
    assert anonymous.get("/app/../README.md").status == 404


def test_each_role_sees_only_its_views(console: Callable[..., Page]) -> None:
    technician = console("acme-home", "t-wang", PHONE)
    assert [a.get_attribute("data-nav") for a in technician.all("[data-nav]")] == ["tech"]
    technician.shot("shell-technician")
    finance = console("acme-home", "u-qian")
    assert [a.get_attribute("data-nav") for a in finance.all("[data-nav]")] == [
        "finance",
        "statements",
        "workflows",
    ]
    dispatcher = console("acme-home", "u-zhao")
    navs = [a.get_attribute("data-nav") for a in dispatcher.all("[data-nav]")]
    assert navs == ["tickets", "new", "failed", "deliveries", "workflows"]
    assert dispatcher.errors() == []
