"""A local twin in a child process (``scrm local``), for e2e tests that need their own tenants.

A second ``LocalTwin`` in the test process would start a second moto mock (which resets every
backend, the session twin's tables included) and drop the warm handler modules the session twin's
functions use. A child process shares nothing with the session twin, so the modules that run after
its test are unaffected.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from infra.twin.client import TwinClient

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180.0


@contextmanager
def child_twin(
    tenant_files: list[Path] | list[str],
    *,
    start: str = "2026-11-23T09:00:00+08:00",
    name: str = "child",
    output: list[str] | None = None,
) -> Iterator[TwinClient]:
    """A twin of ``tenant_files`` on a free port with a manual clock; stopped on exit. ``output``:
    a list that receives the child's output lines as they come (its log, its functions' logs)."""
    command = [
        sys.executable,
        "-m",
        "infra.cli",
        "local",
        *(str(f) for f in tenant_files),
        "--port",
        "0",
        "--clock",
        "manual",
        "--start",
        start,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output = output if output is not None else []

    def pump() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=pump, name=f"{name}-twin-output", daemon=True).start()
    url = None
    deadline = time.monotonic() + START_TIMEOUT
    while url is None and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if child.poll() is not None:
                break
            continue
        if line.startswith("listening on "):
            url = line.removeprefix("listening on ").strip()
    if url is None:
        _stop(child)
        pytest.fail(f"the {name} twin did not start:\n" + "".join(output[-40:]))
    try:
        yield TwinClient(url)
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=15)
