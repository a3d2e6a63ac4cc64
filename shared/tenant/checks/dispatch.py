"""The dispatch settings: `dispatch`.

Keys checked:

- `dispatch.weights`: warning when they do not add up to 1;
- `technicians`: warning when dispatch nodes exist but there are no technicians.
"""

from __future__ import annotations

from decimal import Decimal

from shared.tenant.checks.context import Context

__all__ = ["check_dispatch"]


def check_dispatch(ctx: Context) -> None:
    dispatch = ctx.sections.dispatch
    if dispatch is None:
        return
    total = sum(dispatch.weights.values(), Decimal(0))
    if total != 1:
        ctx.warn(
            "dispatch.weights",
            f"the weights add up to {total}, not 1; adjust them so they add up to 1 "
            "(scores then stay between 0 and 1)",
        )
    has_dispatch = any(
        node.kind == "dispatch" for spec in ctx.sections.ticket_types.values() for node in spec.nodes.values()
    )
    if has_dispatch and ctx.known.technicians == set():
        ctx.warn("technicians", "dispatch nodes exist but there are no technicians; add some")
