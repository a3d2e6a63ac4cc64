"""The ``scrm`` command: validate, synth, local, demo, bench."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

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


def cmd_validate(args: argparse.Namespace) -> int:
    from shared.tenant.cli_validate import run_validate

    return run_validate(args.files)


def cmd_synth(args: argparse.Namespace) -> int:
    from infra.app import build_app
    from shared.tenant import TenantConfigError

    try:
        assembly = build_app(args.files, outdir=args.out, bundle=not args.no_bundle).synth()
    except TenantConfigError as exc:
        return _print_config_error(exc)
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file}")
    print(f"deploy with: npx aws-cdk@2 deploy --app {assembly.directory} --all")
    return 0


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError("--start needs an offset, e.g. 2026-11-23T09:00:00+08:00")
    return instant


def cmd_local(args: argparse.Namespace) -> int:
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
    except TenantConfigError as exc:
        return _print_config_error(exc)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"listening on {twin.url}", flush=True)
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

    return run_benchmark(args.name, as_json=args.json)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="scrm", description="Serverless work orders: tenants, stacks, local twin."
    )
    sub = root.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("bench", help="benchmarks: lifecycle, ingest, dispatch, coldstart")
    p.add_argument("name", choices=["lifecycle", "ingest", "dispatch", "coldstart"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)
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
