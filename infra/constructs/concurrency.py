"""How much of the account's Lambda concurrency each platform function may take, and keep.

One account runs every tenant on the same functions, so the guard against a noisy neighbour is
per *kind of work*: a flood of webhooks or of API reads cannot take the concurrency the workflow
tasks need to move tickets, and vice versa. Reserved concurrency both guarantees and caps a
function; the SQS event source of the intake consumer has its own ``maxConcurrency`` below its
reservation, so a burst of deliveries is drained at a steady pace instead of being throttled
back into the queue.

Figures are for the default quota of 1,000 concurrent executions per account and region (the
AWS default; ``infra/quotas.py``), leaving well over AWS's minimum of 100 unreserved for the
functions without a reservation (ops routes, deploy-time seeding, gauges). An account with a
lower quota (new accounts may start at 10) turns reservations off with the CDK context
``scrm:reservedConcurrency=false`` (``cdk deploy -c scrm:reservedConcurrency=false``); a
raised quota is the place to raise these.

Concurrency needed = rate x duration: at 100 new tickets/s and 500 actions/s with the measured
warm durations (tens of ms, ``scrm bench``), each workflow function needs well under its figure.
"""

from __future__ import annotations

from constructs import Construct

ACCOUNT_CONCURRENCY = 1000
"""Lambda's default concurrent executions per account and region."""
UNRESERVED_MINIMUM = 100
"""AWS keeps at least this much unreserved: a deploy that reserves more fails."""
CONTEXT_KEY = "scrm:reservedConcurrency"

RESERVED: dict[str, int] = {
    "webhooks-api": 150,  # platforms' deliveries: acknowledged fast, never starved by ticket traffic
    "ticket-api": 150,  # people working tickets
    "ticket-park": 100,  # every human node entered
    "ticket-step": 100,  # every system step and end
    "dispatch-assign": 60,
    "settlement-settle": 60,
    "ticket-intake": 50,  # the SQS consumer; its event source is capped below (INTAKE_MAX_CONCURRENCY)
    "reminders-fire": 40,
    "ticket-failed": 10,  # stopped executions: rare, but must never be starved
    "webhooks-outbound": 20,  # tenants' CRMs: a slow receiver never takes the rest (its queue: 10 at most)
}
INTAKE_MAX_CONCURRENCY = 40
"""``maxConcurrency`` of the intake queue's event source (AWS: 2..1000, keep it below the
consumer's reservation so pollers never invoke into a throttle)."""

assert sum(RESERVED.values()) <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
assert RESERVED["ticket-intake"] >= INTAKE_MAX_CONCURRENCY


def reservations_enabled(scope: Construct) -> bool:
    """Reservations are on unless the CDK context says ``false`` (an account below the default quota)."""
    value = scope.node.try_get_context(CONTEXT_KEY)
    return str(value).lower() not in ("false", "0", "no", "off")


def reserved_for(scope: Construct, key: str) -> int | None:
    """The function's reserved concurrency, or None (none reserved, or reservations turned off)."""
    return RESERVED.get(key) if reservations_enabled(scope) else None
