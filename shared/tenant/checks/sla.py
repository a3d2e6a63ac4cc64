"""Business time: `calendars` and `sla_policies`.

Keys checked:

- `calendars.*.holidays`: a country (`CN`) or subdivision (`DE-BE`) with a holiday table;
- `calendars.*.workdays`: no day that is also in `days_off`;
- `sla_policies.*.calendar`: a key of `calendars`;
- `sla_policies.*.levels.*.notify`: `role:` a role that exists, `user:` an id of `users`;
  warning when the levels are not in rising order of `at`;
- `sla_policies.*.levels.*.channels`: `wecom` only when the file has a `wecom_app`; warning when
  no user or technician has a `wecom_user` to receive it;
- `sla_policies.*`: warning when no ticket type uses the policy (`ticket_types.*.sla`);
- `sla_policies.*.targets`, `sla_policies.*.pause_on_nodes`: nodes of the ticket types that
  use the policy (of any type if none does);
- `sla_policies.*.targets.*.*`: an option of those types' `priority` field; warning for a
  budget in days (`"2d"` is 48 business hours, `"2bd"` two business days).
"""

from __future__ import annotations

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import as_dict, as_list, join, listing
from shared.tenant.models import SlaPolicy, did_you_mean

__all__ = ["check_calendars", "check_sla_policies"]


def check_calendars(ctx: Context) -> None:
    for name, calendar in ctx.sections.calendars.items():
        path = join("calendars", name)
        if calendar.holidays is not None:
            problem = _holiday_problem(calendar.holidays)
            if problem:
                ctx.error(join(path, "holidays"), problem)
        clash = sorted(set(calendar.days_off) & set(calendar.workdays))
        if clash:
            days = ", ".join(day.isoformat() for day in clash)
            ctx.error(
                join(path, "workdays"),
                f"{days} is both a day off and a workday; keep it in only one of the lists",
            )


def _holiday_problem(code: str) -> str | None:
    import holidays  # imported here: only validation needs the holiday tables

    supported: dict[str, list[str]] = holidays.list_supported_countries()
    country, _, subdivision = code.partition("-")
    if country not in supported:
        return (
            f"unknown holiday country {code!r}{did_you_mean(country, supported)}; use an ISO 3166 "
            "country code such as CN, DE or US, optionally with a subdivision such as DE-BE"
        )
    if subdivision and subdivision not in supported[country]:
        return (
            f"unknown subdivision {subdivision!r} of {country}{did_you_mean(subdivision, supported[country])}"
            f"; known: {listing(supported[country], limit=20)}"
        )
    return None


def check_sla_policies(ctx: Context) -> None:
    known = ctx.known
    for name, policy in ctx.sections.sla_policies.items():
        path = join("sla_policies", name)
        ctx.ref(
            join(path, "calendar"),
            "calendar",
            policy.calendar,
            known.calendars,
            "add it under calendars or fix the name",
        )
        _check_sla_levels(ctx, path, policy)
        if known.ticket_types is None:
            continue
        users = sorted(
            type_name
            for type_name, spec in as_dict(ctx.raw.get("ticket_types")).items()
            if as_dict(spec).get("sla") == name
        )
        if not users:
            ctx.warn(path, f"no ticket type uses this policy; set sla: {name} on a ticket type or remove it")
        scope = users or sorted(known.ticket_types)
        nodes: set[str] = set()
        for type_name in scope:
            nodes |= known.ticket_types.get(type_name, set())
        if not nodes:
            continue
        where = f"{', '.join(scope)}, the ticket type(s) using this policy" if users else "any ticket type"
        named = [(join(path, "targets", node), node) for node in policy.targets]
        named += [(join(path, "pause_on_nodes"), node) for node in policy.pause_on_nodes]
        for node_path, node in named:
            if node not in nodes:
                ctx.error(
                    node_path,
                    f"node {node!r} is not in {where}{did_you_mean(node, nodes)}; "
                    f"known nodes: {listing(nodes)}",
                )
        _check_sla_priorities(ctx, path, policy, users)
        _check_day_budgets(ctx, path, policy)


def _check_day_budgets(ctx: Context, path: str, policy: SlaPolicy) -> None:
    """`"2d"` is 48 business hours, which a person rarely means: say so, and how to write days."""
    for node, budgets in policy.targets.items():
        for priority, text in budgets.items():
            if "d" in text and not text.endswith("bd"):
                days = text.split("d", 1)[0]
                ctx.warn(
                    join(path, "targets", node, priority),
                    f"{text!r} is {int(days) * 24} hours of business time (days of 24 open hours); "
                    f'for {days} business day(s) write "{days}bd"',
                )


def _check_sla_priorities(ctx: Context, path: str, policy: SlaPolicy, users: list[str]) -> None:
    for type_name in users:
        ticket_type = ctx.sections.ticket_types.get(type_name)
        field_def = ticket_type.field("priority") if ticket_type else None
        if field_def is None or not field_def.options:
            continue
        for node, budgets in policy.targets.items():
            for priority in budgets:
                if priority not in field_def.options:
                    ctx.error(
                        join(path, "targets", node, priority),
                        f"priority {priority!r} is not an option of the priority field of "
                        f"{type_name} ({', '.join(field_def.options)})"
                        f"{did_you_mean(priority, field_def.options)}; use one of those",
                    )


def _check_sla_levels(ctx: Context, path: str, policy: SlaPolicy) -> None:
    for level in policy.levels:
        level_path = join(path, "levels", level.name, "notify")
        for recipient in level.notify:
            kind, _, name = recipient.partition(":")
            if kind == "role":
                ctx.ref(level_path, "role", name, ctx.known.roles, "give the role to a user or fix the name")
            if kind == "user":
                ctx.ref(level_path, "user", name, ctx.known.users, "use a user id from users")
        if "wecom" in level.channels:
            _check_wecom_level(ctx, join(path, "levels", level.name, "channels"))
    shares = [level.at for level in policy.levels]
    if shares != sorted(set(shares)):
        ctx.warn(join(path, "levels"), "levels are not in rising order of 'at'; list them from first to last")


def _check_wecom_level(ctx: Context, path: str) -> None:
    """A level sending over ``wecom`` needs the tenant's WeCom application, and someone to reach."""
    if ctx.raw.get("wecom_app") is None:
        ctx.error(
            path,
            "channel 'wecom' sends WeCom application messages, but the file has no wecom_app; add "
            "wecom_app: {corp_id: ..., agent_id: ..., secret: {ssm: /scrm/<tenant>/wecom-app-secret}} "
            "or remove 'wecom' from the channels",
        )
        return
    people = [*as_list(ctx.raw.get("users")), *as_list(ctx.raw.get("technicians"))]
    if not any(as_dict(person).get("wecom_user") for person in people):
        ctx.warn(
            path,
            "no user or technician has a wecom_user, so channel 'wecom' reaches nobody; give the "
            "people it notifies their WeCom UserId (wecom_user)",
        )
