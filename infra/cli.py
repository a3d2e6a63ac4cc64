"""The ``scrm`` command: init, validate, synth, local, demo, bench, capacity, deliveries, report."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tenants"


def _example_tenants() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".secrets.yaml"))


def _print_config_error(exc: Exception) -> int:
    problems = getattr(exc, "problems", None)
    if problems:
        for p in problems:
            print(f"{p.file}: {p.path}: {p.message}", file=sys.stderr)
        print(f"{len(problems)} problem(s); nothing was synthesized", file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def cmd_init(args: argparse.Namespace) -> int:
    from infra.init import run_init

    return run_init(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from shared.tenant.cli_validate import run_validate

    return run_validate(args.files)


def cmd_synth(args: argparse.Namespace) -> int:
    from infra.app import CellError, build_app
    from shared.tenant import TenantConfigError

    try:
        assembly = build_app(args.files, outdir=args.out, bundle=not args.no_bundle).synth()
    except (TenantConfigError, CellError) as exc:
        return _print_config_error(exc)
    for cell, stacks in _stacks_by_cell(assembly).items():
        where = stacks[0].environment
        account = "the CLI's account" if where.account.startswith("unknown") else where.account
        region = "the CLI's region" if where.region.startswith("unknown") else where.region
        print(f"cell {cell} ({account}, {region}):")
        for stack in stacks:
            print(f"  {stack.stack_name}: {Path(assembly.directory) / stack.template_file}")
        names = " ".join(stack.stack_name for stack in stacks)
        print(f"  deploy with: npx aws-cdk@2 deploy --app {assembly.directory} {names}")
    return 0


def _stacks_by_cell(assembly: Any) -> dict[str, list[Any]]:
    """Each cell's platform stack then its tenants' stacks, cells in the order of the files."""
    from infra.stacks import PLATFORM_STACK

    platforms = {s.stack_name: s for s in assembly.stacks if s.stack_name.startswith(PLATFORM_STACK)}
    grouped: dict[str, list[Any]] = {}
    for name, platform in platforms.items():
        cell = name.removeprefix(PLATFORM_STACK).removeprefix("-") or "main"
        tenants = [
            s
            for s in assembly.stacks
            if s.stack_name not in platforms and platform.id in {d.id for d in s.dependencies}
        ]
        grouped[cell] = [platform, *tenants]
    return grouped


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs an offset, e.g. 2026-11-23T09:00:00+08:00")
    return instant


def cmd_local(args: argparse.Namespace) -> int:
    from infra.app import CellError
    from infra.twin.twin import LocalTwin
    from shared.tenant import TenantConfigError

    try:
        twin = LocalTwin(
            args.files,
            port=args.port,
            clock=args.clock,
            start=_parse_start(args.start),
            secrets_file=args.secrets,
            quiet_requests=False,
        ).start()
    except (TenantConfigError, CellError) as exc:
        return _print_config_error(exc)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {twin.url}", flush=True)
    print(f"console: {twin.url}/app/ (sign in as any person of the tenant files)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    twin.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from infra.demo import run_demo

    return run_demo(args.files or _example_tenants())


def cmd_openapi(args: argparse.Namespace) -> int:
    from infra.openapi import write

    print(f"wrote {write()}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks import run_benchmark

    return run_benchmark(args.name, as_json=args.json, tickets=args.tickets)


def cmd_capacity(args: argparse.Namespace) -> int:
    from infra.capacity import run

    return run(tenants=args.tenants, tickets=args.tickets, as_json=args.json)


# --------------------------------------------------------------------------- deliveries (ops)

DELIVERY_COLUMNS = (
    ("received_at", "RECEIVED"),
    ("channel", "CHANNEL"),
    ("delivery_id", "DELIVERY"),
    ("topic", "TOPIC"),
    ("status", "STATUS"),
    ("ticket_id", "TICKET"),
    ("reason", "REASON"),
)


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def _call(args: argparse.Namespace, method: str, path: str, query: dict[str, Any] | None = None) -> Any:
    """One request to the ops routes (stdlib only); the JSON answer, or ``ApiError``."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    pairs = {k: v for k, v in (query or {}).items() if v is not None}
    url = args.url.rstrip("/") + path + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")
    headers = {"authorization": f"Bearer {args.token}", "accept": "application/json"}
    data = b"{}" if method == "POST" else None
    if data is not None:
        headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, payload = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        body = payload.decode("utf-8", "replace")
    if status >= 400:
        raise ApiError(status, body)
    return body


def _delivery_path(channel: str, delivery_id: str, suffix: str = "") -> str:
    from urllib.parse import quote

    return f"/deliveries/{quote(channel, safe='')}/{quote(delivery_id, safe='')}{suffix}"


def _cell(value: Any, width: int = 48) -> str:
    text = "-" if value is None or value == "" else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...] = DELIVERY_COLUMNS) -> str:
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max([len(title), *(len(r[i]) for r in cells)]) for i, (_, title) in enumerate(columns)]
    lines = ["  ".join(title.ljust(widths[i]) for i, (_, title) in enumerate(columns)).rstrip()]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)


def _show_text(delivery: dict[str, Any]) -> str:
    import json

    keys = [k for k in delivery if k not in ("headers", "payload")]
    width = max(len(k) for k in keys)
    lines = [f"{k.ljust(width)}  {_cell(delivery[k], 200)}" for k in keys]
    lines.append("headers:")
    lines += [f"  {k}: {v}" for k, v in sorted((delivery.get("headers") or {}).items())]
    lines.append("payload:")
    lines.append(json.dumps(delivery.get("payload"), ensure_ascii=False, indent=2))
    return "\n".join(lines)


def cmd_deliveries(args: argparse.Namespace) -> int:
    """``scrm deliveries list|show|replay|redrive``: the ops routes of intake over HTTP."""
    import json

    if args.tenant:
        print(f"tenant: {args.tenant} (the token's tenant decides what is shown)", file=sys.stderr)
    try:
        if args.action == "list":
            query = {"channel": args.channel, "status": args.status, "limit": args.limit, "next": args.next}
            answer = _call(args, "GET", "/deliveries", query)
            items = list(answer["items"])
            while args.all and answer.get("next"):
                answer = _call(args, "GET", "/deliveries", {**query, "next": answer["next"]})
                items += answer["items"]
            if args.json:
                print(json.dumps({"items": items, "next": answer.get("next")}, ensure_ascii=False, indent=2))
            else:
                print(_table(items) if items else "no deliveries")
                if answer.get("next"):
                    print(f"\nmore: --next {answer['next']}")
        elif args.action == "show":
            answer = _call(args, "GET", _delivery_path(args.channel, args.delivery_id))
            print(json.dumps(answer, ensure_ascii=False, indent=2) if args.json else _show_text(answer))
        elif args.action == "replay":
            answer = _call(args, "POST", _delivery_path(args.channel, args.delivery_id, "/replay"))
            if args.json:
                print(json.dumps(answer, ensure_ascii=False, indent=2))
            else:
                print(
                    f"replayed {answer['channel']}/{answer['delivery_id']}: status {answer['status']}, "
                    f"replays {answer['replays']}"
                )
        else:  # redrive
            answer = _call(args, "POST", "/deliveries/redrive")
            if args.json:
                print(json.dumps(answer, indent=2))
            else:
                print(
                    f"moved {answer['moved']} message(s) from the intake DLQ to the intake queue; "
                    f"left {answer['left']} (other tenants' or unreadable)"
                    + ("" if answer["complete"] else "; time ran out, run it again")
                )
    except ApiError as exc:
        if args.json:
            print(json.dumps(exc.body, ensure_ascii=False, indent=2))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    return 0


def _add_deliveries_parser(sub: Any) -> None:
    p = sub.add_parser("deliveries", help="inspect, replay and redrive intake deliveries (dispatcher/admin)")
    actions = p.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", required=True, help="base URL of the HTTP API (or the local twin)")
    common.add_argument("--token", required=True, help="a JWT of a dispatcher or admin")
    common.add_argument("--tenant", help="the tenant meant (informational: the token's tenant is used)")
    common.add_argument("--json", action="store_true", help="print the API's JSON answer")

    a = actions.add_parser("list", parents=[common], help="deliveries, newest first")
    a.add_argument("--channel")
    a.add_argument("--status", choices=["queued", "ticket_created", "unmatched", "failed"])
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--next", help="cursor printed by the previous page")
    a.add_argument("--all", action="store_true", help="follow the cursor to the end")
    for name, text in (("show", "one delivery: headers kept, payload"), ("replay", "queue it again")):
        a = actions.add_parser(name, parents=[common], help=text)
        a.add_argument("channel")
        a.add_argument("delivery_id")
    actions.add_parser("redrive", parents=[common], help="move this tenant's messages from the DLQ back")
    p.set_defaults(func=cmd_deliveries)


def cmd_report(args: argparse.Namespace) -> int:
    """Save the twin's dashboards page (``GET /_local/dashboard``): one HTML file, no network needed."""
    import urllib.error
    import urllib.request

    url = args.url.rstrip("/") + "/_local/dashboard"
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            page = answer.read()
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: cannot read {url}: {exc}", file=sys.stderr)
        return 1
    Path(args.out).write_bytes(page)
    print(f"dashboards saved to {args.out} ({len(page)} bytes); open it in a browser")
    return 0


def cmd_events_doc(_args: argparse.Namespace) -> int:
    """``docs/events.md`` from ``shared/domain/events.py`` (its schemas are the models')."""
    from infra.events_doc import write

    print(f"wrote {write()}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="scrm", description="Serverless work orders: tenants, stacks, local twin."
    )
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "init", help="start a tenant file from an industry template (asks on a terminal)", allow_abbrev=False
    )
    p.add_argument("--list", action="store_true", help="show the templates, one line each")
    p.add_argument("--template", help="the template's name (scrm init --list)")
    p.add_argument("--tenant-id", dest="tenant_id", help="[a-z0-9-]{3,32}; default: the template's")
    p.add_argument("--name", help="the company's name (tenant.name)")
    p.add_argument(
        "--timezone", help="IANA time zone of the tenant and its calendars (default Asia/Shanghai)"
    )
    p.add_argument(
        "--holidays", help="public holidays of a country or subdivision: CN, DE-BE ... (default CN)"
    )
    p.add_argument("--out", help="the tenant file to write (default <tenant-id>.yaml); secrets go beside it")
    p.add_argument("--force", action="store_true", help="overwrite the files if they exist")
    p.add_argument("--no-input", dest="no_input", action="store_true", help="never ask, even on a terminal")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("validate", help="check tenant files; errors name the file, the path and the fix")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("synth", help="synthesize the platform stack and one stack per tenant")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default="cdk.out")
    p.add_argument("--no-bundle", action="store_true", help="skip packaging Lambda dependencies (faster)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("local", help="run the local twin on 127.0.0.1 until stopped")
    p.add_argument("files", nargs="+")
    p.add_argument("--port", type=int, default=8400)
    p.add_argument("--clock", choices=["realtime", "manual"], default="realtime")
    p.add_argument("--start", help="the twin clock's first instant (ISO 8601 with offset)")
    p.add_argument("--secrets", help="YAML mapping secret reference -> value (adds to <tenant>.secrets.yaml)")
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("demo", help="the guided demo on the local twin")
    p.add_argument("files", nargs="*", help="tenant files (default: the examples)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("openapi", help="regenerate the OpenAPI document served at GET /openapi.json")
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser("events-doc", help="regenerate docs/events.md from the domain event models")
    p.set_defaults(func=cmd_events_doc)

    p = sub.add_parser("bench", help="benchmarks: lifecycle, ingest, dispatch, coldstart, templates")
    p.add_argument("name", choices=["lifecycle", "ingest", "dispatch", "coldstart", "templates"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--tickets", type=int, default=10, help="lifecycle: install tickets; ingest: deliveries")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "capacity", help="what one cell (account and region) holds: tickets/s, actions/s, tenants, hot keys"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--tenants", type=int, default=20, help="generated tenants to synthesize and count")
    p.add_argument("--tickets", type=int, default=3, help="install tickets to meter on the twin")
    p.set_defaults(func=cmd_capacity)

    _add_deliveries_parser(sub)

    p = sub.add_parser("report", help="save the local twin's dashboards as one HTML page")
    p.add_argument("--url", default="http://127.0.0.1:8400", help="the running twin (scrm local)")
    p.add_argument("--out", default="scrm-dashboards.html", help="the HTML file to write")
    p.set_defaults(func=cmd_report)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
