"""``docs/events.md``, generated from the event models (``shared/domain/events.py``): ``scrm events-doc``.

The page is never edited by hand: ``tests/unit/test_domain_events.py`` fails when it differs from
:func:`render`, so a change to an event's model shows in review as a change to the documented schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.domain.events import EVENT_TYPES, event_schema

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"

INTRO = Path(__file__).with_name("events_doc.intro.md")
"""The page's prose (hand-written: the design, delivery, signing, the twin); the schemas follow it."""


def render() -> str:
    parts = [INTRO.read_text(encoding="utf-8")]
    parts.append("\n| type | version | sent when |\n|---|---|---|\n")
    parts.extend(f"| `{t.name}` | {t.version} | {t.when} |\n" for t in EVENT_TYPES.values())
    for kind in EVENT_TYPES.values():
        schema = json.dumps(event_schema(kind.name), indent=2, ensure_ascii=False)
        parts.append(
            f"\n### `{kind.name}` (version {kind.version})\n\nSent when {kind.when}.\n\n"
            f"```json\n{schema}\n```\n"
        )
    return "".join(parts)


def write(path: Path = DOC) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path
