"""The workflow viewer in a real Chromium (issue 19): every ticket type of acme-home drawn with one
node per node of the tenant file (as GET /tenant lists them), and the open tickets counted where they
wait now."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable

from infra.twin.client import TwinClient
from tests.e2e.browser.conftest import Page

TENANT = "acme-home"


def _open_by_node(client: TwinClient, type_: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    cursor = ""
    while True:
        page = client.get(f"/tickets?type={type_}&status=open&limit=100{cursor}").body
        counts.update(t["node"] for t in page["items"])
        if not page.get("next"):
            return counts
        cursor = f"&next={page['next']}"


def test_every_type_is_drawn_node_by_node_with_its_open_tickets(
    console: Callable[..., Page], agent: TwinClient
) -> None:
    # Given an open consult ticket waiting at its first node
    marker = uuid.uuid4().hex[:8]
    created = agent.post(
        "/tickets",
        {
            "type": "consult",
            "fields": {"customer_name": f"wf-{marker}", "customer_phone": "+8613800003333", "question": "?"},
        },
    )
    assert created.status == 201, created.body
    ticket = agent.wait_ready(created.body["id"])
    definition = agent.get("/tenant").body
    expected = _open_by_node(agent, "consult")
    assert expected[ticket["node"]] >= 1

    page = console(TENANT, "u-zhao")
    page.errors()  # only this test's browser errors count
    page.go("#/workflows")
    page.wait_for("svg[data-workflow] [data-node]")
    time.sleep(0.3)
    drawn_types = [s.get_attribute("data-workflow") for s in page.all("svg[data-workflow]")]
    assert drawn_types == list(definition["ticket_types"])  # file order
    for type_, spec in definition["ticket_types"].items():
        nodes = page.all(f'svg[data-workflow="{type_}"] g[data-node]')
        assert [n.get_attribute("data-node") for n in nodes] == list(spec["nodes"]), type_
        assert {n.get_attribute("data-kind") for n in nodes} == {n["kind"] for n in spec["nodes"].values()}
        edges = page.all(f'svg[data-workflow="{type_}"] g[data-edge]')
        # two actions between the same nodes are one edge with both labels
        drawn = {part for e in edges for part in e.get_attribute("data-edge").split(" / ")}
        for name, node in spec["nodes"].items():
            for label, _target in node.get("actions", []):
                assert label in drawn, (type_, name, label)
    # decision rules and dispatch's way out when nobody fits are drawn too
    assert page.all('svg[data-workflow="callback"] g.edge-rule')
    assert page.all('svg[data-workflow="callback"] g[data-edge="default"]')
    assert page.all('svg[data-workflow="install"] g.edge-no_candidate')

    # Then the consult's node shows how many open tickets wait there, as the API counts them
    here = page.wait_for(f'svg[data-workflow="consult"] g[data-node="{ticket["node"]}"]')
    assert int(here.get_attribute("data-open")) == expected[ticket["node"]]
    for name in definition["ticket_types"]["consult"]["nodes"]:
        shown = page.wait_for(f'svg[data-workflow="consult"] g[data-node="{name}"]')
        assert int(shown.get_attribute("data-open")) == expected[name], name
    assert page.errors() == []
    page.driver.execute_script(
        "document.querySelector('[data-type=consult]').scrollIntoView({block: 'start'});"
        "window.scrollBy(0, -60);"
    )
    time.sleep(0.2)
    page.shot("workflow")
