"""``scrm bench templates``: how long a new business takes from ``scrm init`` to its first ticket.

For each industry template, as a new user would: ``scrm init --template NAME`` into an empty folder,
``scrm validate`` the file, ``scrm local`` it (a child process: synth, deploy into moto, listen),
then a user of the file creates a ticket of the template's first type through the API with values
made from its field definitions, and the clock stops when the ticket is parked at its first node
(or ended). Wall-clock seconds per step on this machine; the twin's start (synth and deploy of the
platform stack) is most of it.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from infra.cli import main as scrm
from infra.twin.client import TwinClient
from shared.templates import Template, templates

ROOT = Path(__file__).resolve().parent.parent
CREATORS = ("agent", "dispatcher", "supervisor", "admin")


def sample(data: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A valid value of a field definition, taken from the file where the type needs it."""
    kind, low = spec["type"], spec.get("min")
    if spec.get("default") is not None:
        return spec["default"]
    values: dict[str, Any] = {
        "text": "空调不制冷, 请尽快上门" * max(1, int(low or 1) // 10 + 1),
        "number": int(low or 1),
        "money": f"{max(int(low or 0), 1)}.00",
        "date": "2026-12-20",
        "datetime": "2026-12-20T10:30:00+08:00",
        "phone": "+8613800000099",
        "email": "first@example.com",
        "region": data["regions"][0]["code"],
        "geo": dict(data["technicians"][0].get("location") or {"lat": 31.2, "lon": 121.5}),
        "photos": [f"photos/{n}.jpg" for n in range(max(1, int(low or 1)))],
        "technician": data["technicians"][0]["id"],
    }
    if kind in ("select", "multiselect"):
        return spec["options"][0] if kind == "select" else spec["options"][: max(1, int(low or 1))]
    if kind == "service_items":
        return [{"code": data["catalog"]["service_items"][0]["code"], "quantity": 1}]
    if kind == "parts":
        return [{"sku": part["sku"], "quantity": 1} for part in data["catalog"].get("parts", [])[:1]]
    return values[kind]


def _twin(tenant_file: Path) -> tuple[subprocess.Popen[str], str]:
    """``scrm local FILE`` in a child process; its URL once it listens."""
    child = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "local", str(tenant_file), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in child.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if child.poll() is not None:
                break
            continue
        if line.startswith("listening on "):
            return child, line.split()[-1]
    child.kill()
    raise RuntimeError(f"scrm local {tenant_file} did not start")


def one(template: Template, folder: Path) -> dict[str, Any]:
    tenant_file = folder / f"{template.tenant_id}.yaml"
    started = time.monotonic()
    assert scrm(["init", "--template", template.name, "--out", str(tenant_file), "--no-input"]) == 0
    initialised = time.monotonic()
    assert scrm(["validate", str(tenant_file)]) == 0
    validated = time.monotonic()
    data = yaml.safe_load(tenant_file.read_text(encoding="utf-8"))
    child, url = _twin(tenant_file)
    try:
        listening = time.monotonic()
        user = next(u for u in data["users"] if set(u.get("roles", [])) & set(CREATORS))
        client = TwinClient(url).as_user(data["tenant"]["id"], user["id"], list(user["roles"]))
        type_id, spec = next(iter(data["ticket_types"].items()))
        fields = {f["name"]: sample(data, f) for f in spec.get("fields", []) if f.get("required")}
        created = client.post("/tickets", {"type": type_id, "fields": fields})
        assert created.status == 201, created.body
        ticket = client.wait_ready(created.body["id"], timeout=60)
        first = time.monotonic()
    finally:
        child.terminate()
        child.wait(timeout=30)
    types = data["ticket_types"]
    return {
        "template": template.name,
        "ticket_types": len(types),
        "nodes": sum(len(t["nodes"]) for t in types.values()),
        "channels": sorted({c["platform"] for c in data.get("channels", [])}),
        "first_ticket": f"{type_id} at {ticket['node']}",
        "seconds": {
            "init": round(initialised - started, 2),
            "validate": round(validated - initialised, 2),
            "twin_start": round(listening - validated, 2),
            "first_ticket": round(first - listening, 2),
            "total": round(first - started, 2),
        },
    }


def main(as_json: bool) -> int:
    import json

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for template in templates():
            print(f"  {template.name} ...", file=sys.stderr, flush=True)
            rows.append(one(template, Path(folder)))
    if as_json:
        print(json.dumps({"benchmark": "templates", "templates": rows}, ensure_ascii=False, indent=2))
        return 0
    print(f"{'template':<22} {'types':>5} {'nodes':>5}  {'channels':<44} {'init→first ticket (s)':>22}")
    for r in rows:
        s = r["seconds"]
        print(
            f"{r['template']:<22} {r['ticket_types']:>5} {r['nodes']:>5}  {', '.join(r['channels']):<44} "
            f"{s['total']:>8.1f} (twin start {s['twin_start']:.1f}, ticket {s['first_ticket']:.1f})"
        )
    return 0
