"""Events out: `subscriptions`.

Keys checked (the URL's scheme and form are the model's: `models/subscriptions.py`):

- `subscriptions.*.id`: unique;
- `subscriptions.*.events`: each an event type the platform sends (`ticket.closed`), a group of
  them (`ticket.*`) or `*`, with did-you-mean for a typo;
- `subscriptions.*.secret.ssm`: under `/scrm/` (the sender may read only there), and a warning
  when it is not under `/scrm/<tenant id>/`, where the tenant's other secrets live.

Read from the raw list, so a subscription with a broken URL still has its events checked. The
secrets file's value (`whsec_` + base64) is checked by `checks.files`.
"""

from __future__ import annotations

from collections import Counter

from shared.domain.events import EVENT_NAMES
from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, item_label, join, listing
from shared.tenant.models import did_you_mean

__all__ = ["check_subscriptions"]

GROUPS = tuple(dict.fromkeys(f"{name.split('.', 1)[0]}.*" for name in EVENT_NAMES))
"""`ticket.*`, `settlement.*`, ...: every event of one kind of thing."""


def check_subscriptions(ctx: Context) -> None:
    raw = ctx.raw.get("subscriptions")
    if raw is None:
        return
    items = as_list(raw)
    ids = Counter(str(as_dict(s).get("id")) for s in items if isinstance(as_dict(s).get("id"), str))
    tenant = str(as_dict(ctx.raw.get("tenant")).get("id") or "")
    for index, item in enumerate(items):
        sub = as_dict(item)
        path = join("subscriptions", item_label(sub, index))
        if ids.get(str(sub.get("id")), 0) > 1 and isinstance(sub.get("id"), str):
            ctx.error(
                join(path, "id"), f"subscription id {sub['id']!r} is used more than once; ids are unique"
            )
        for name in as_list(sub.get("events")):
            if isinstance(name, str) and name != "*" and name not in EVENT_NAMES and name not in GROUPS:
                ctx.error(
                    join(path, "events"),
                    f"unknown event {name!r}{did_you_mean(name, (*EVENT_NAMES, *GROUPS))}; "
                    f"events: {listing(EVENT_NAMES, limit=20)}, a group ({listing(GROUPS)}) or '*'",
                )
        ssm = as_dict(sub.get("secret")).get("ssm")
        if isinstance(ssm, str) and not ssm.startswith("/scrm/"):
            ctx.error(
                join(path, "secret", "ssm"),
                f"{ssm!r} is outside /scrm/; the sender may only read secrets under /scrm/, "
                f"e.g. /scrm/{tenant or '<tenant>'}/subscriptions/{sub.get('id') or '<id>'}",
            )
        elif isinstance(ssm, str) and tenant and not ssm.startswith(f"/scrm/{tenant}/"):
            ctx.warn(
                join(path, "secret", "ssm"),
                f"{ssm!r} is not under /scrm/{tenant}/, where this tenant's secrets live; move it there",
            )
