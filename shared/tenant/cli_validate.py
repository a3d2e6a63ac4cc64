"""`scrm validate FILE...`: every problem of the given tenant files, one per line.

```
examples/tenants/broken.yaml: technicians.t-li.regions: unknown region 'CN-GZ'; known: CN-BJ, CN-SH; ...
FAILED: examples/tenants/broken.yaml (5 errors)
OK: examples/tenants/acme-home.yaml (tenant acme-home, 2 ticket types, 10 nodes, 4 regions, ...)
2 files checked: 1 OK, 1 failed
```

The exit code is 1 when any file has an error, else 0 (warnings are printed but pass).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from shared.tenant.loader import FileCheck, check_tenant_files
from shared.tenant.models import TenantConfig


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _describe(config: TenantConfig) -> str:
    nodes = sum(len(spec.nodes) for spec in config.ticket_types.values())
    return ", ".join(
        [
            f"tenant {config.tenant.id}",
            _count(len(config.ticket_types), "ticket type"),
            _count(nodes, "node"),
            _count(len(config.regions), "region"),
            _count(len(config.users), "user"),
            _count(len(config.technicians), "technician"),
            _count(len(config.channels), "channel"),
        ]
    )


def _verdict(check: FileCheck) -> str:
    warnings = f", {_count(len(check.warnings), 'warning')}" if check.warnings else ""
    if not check.ok:
        return f"FAILED: {check.file} ({_count(len(check.errors), 'error')}{warnings})"
    if check.kind == "tenant" and check.config is not None:
        return f"OK: {check.file} ({_describe(check.config)}{warnings})"
    values = len(check.data) if isinstance(check.data, dict) else 0
    return f"OK: {check.file} (secrets, {_count(values, 'value')}{warnings})"


def run_validate(paths: Sequence[str], *, out: TextIO | None = None) -> int:
    """Print `FILE: PATH: MESSAGE` per problem, a verdict per file and a summary; 0 if no errors, else 1."""
    stream = out if out is not None else sys.stdout
    if not paths:
        print("no files given; usage: scrm validate TENANT.yaml...", file=stream)
        return 1
    checks = check_tenant_files(paths)
    for check in checks:
        for problem in check.problems:
            print(problem, file=stream)
        print(_verdict(check), file=stream)
    failed = sum(1 for check in checks if not check.ok)
    summary = f"{_count(len(checks), 'file')} checked: {len(checks) - failed} OK, {failed} failed"
    print(summary, file=stream)
    return 1 if failed else 0
