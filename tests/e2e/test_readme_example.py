"""The README's curl example, run as written (against the session twin's port), creates a ticket."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.twin.twin import LocalTwin

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    """The shell block of the README that creates a ticket with curl (the lines after `scrm local`)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    block = next(b for b in blocks if "curl" in b and "/tickets" in b)
    lines = [line for line in block.splitlines() if "scrm local" not in line]
    return "\n".join(lines)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_curl_example_creates_a_ticket(twin: LocalTwin) -> None:
    script = _example().replace("localhost:8400", f"127.0.0.1:{twin.port}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    ticket = json.loads(done.stdout)
    assert ticket["type"] == "consult" and ticket["status"] == "open", ticket
    assert ticket["fields"]["customer_phone"].startswith("+"), ticket
