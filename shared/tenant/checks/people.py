"""The people of the file: `users` and `technicians`.

Keys checked:

- `users.*.roles`: warning for a role that looks like a typo of a built-in role;
- `technicians.*.regions`: each a code of `regions`;
- `technicians.*.calendar`: a key of `calendars`;
- `technicians.*.supervisor`: an id of `users`.
"""

from __future__ import annotations

from shared.tenant.checks.context import Context
from shared.tenant.checks.problems import join, listing
from shared.tenant.models import BUILTIN_ROLES, did_you_mean

__all__ = ["check_people"]


def check_people(ctx: Context) -> None:
    known = ctx.known
    for user in ctx.sections.users:
        for role in user.roles:
            hint = did_you_mean(role, BUILTIN_ROLES)
            if role not in BUILTIN_ROLES and hint:
                ctx.warn(
                    join("users", user.id, "roles"),
                    f"role {role!r} is not a built-in role{hint} (built-in: {listing(BUILTIN_ROLES)})",
                )
    for tech in ctx.sections.technicians:
        path = join("technicians", tech.id)
        for region in tech.regions:
            ctx.ref(
                join(path, "regions"),
                "region",
                region,
                known.regions,
                "add it under regions or use one of those codes",
            )
        if tech.calendar is not None:
            ctx.ref(
                join(path, "calendar"),
                "calendar",
                tech.calendar,
                known.calendars,
                "add it under calendars or fix the name",
            )
        if tech.supervisor is not None:
            ctx.ref(
                join(path, "supervisor"),
                "user",
                tech.supervisor,
                known.users,
                "the supervisor must be a user id from users",
            )
