"""Every problem of a tenant file, each with the path in the file and the fix.

`validate_tenant_data` checks one parsed document in two passes:

1. the pydantic models (`shared.tenant.models`); their errors are turned into
   `Problem`s whose path names list items by their id (`technicians.t-wang.regions`)
   and whose message says what to write instead;
2. the rules between sections (references, reachability, prices per tier, ...).
   They run even when pass 1 failed: each section is re-validated with its broken
   items left out, and names that exist in the file (even in a broken item) still
   count as known, so one mistake is reported once rather than as a cascade.

Paths are dotted: mapping keys as written, list items by their `id`, `code`, `sku`
or `name` when they have one, else by their 0-based index
(`catalog.tier_rules.2.tier`). A problem about a list of plain values (a
technician's regions) points at the list and names the value in its message.

The checks live in `shared.tenant.checks`, one module per part of the file; this
module runs them in a fixed order (`SECTION_CHECKS`), which is the order of the problems.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import ValidationError

from shared.tenant.checks import channels, dispatch, document, people, settlement, sla, workflow
from shared.tenant.checks import customers as customer_checks
from shared.tenant.checks import follow_ups as follow_up_checks
from shared.tenant.checks import opportunities as opportunity_checks
from shared.tenant.checks import rules as rule_checks
from shared.tenant.checks import subscriptions as subscription_checks
from shared.tenant.checks.context import Context
from shared.tenant.checks.files import find_duplicate_tenant_ids, validate_secrets
from shared.tenant.checks.model_errors import validation_problems
from shared.tenant.checks.problems import Problem, Severity, TenantConfigError, data_path, describe
from shared.tenant.checks.salvage import Sections, salvage_sections
from shared.tenant.models import TenantConfig

__all__ = [
    "Problem",
    "Severity",
    "TenantConfigError",
    "data_path",
    "find_duplicate_tenant_ids",
    "validate_secrets",
    "validate_tenant_data",
]

SECTION_CHECKS: tuple[Callable[[Context], None], ...] = (
    document.check_sizes,
    document.check_duplicates,
    sla.check_calendars,
    people.check_people,
    settlement.check_catalog,
    sla.check_sla_policies,
    dispatch.check_dispatch,
    workflow.check_ticket_types,
    follow_up_checks.check_follow_ups,
    rule_checks.check_rules,
    opportunity_checks.check_opportunities,
    channels.check_channels,
    customer_checks.check_customers,
    subscription_checks.check_subscriptions,
)
"""Pass 2, in order: the problems of a file come out in this order."""


def validate_tenant_data(data: object, *, file: str = "<data>") -> tuple[TenantConfig | None, list[Problem]]:
    """Check one parsed tenant document: the config (`None` if any error) and every problem found.

    Warnings do not stop the config from being returned.
    """
    if not isinstance(data, Mapping):
        keys = ", ".join(info.alias or name for name, info in TenantConfig.model_fields.items())
        return None, [Problem(file, "", f"expected a mapping with the sections {keys}; got {describe(data)}")]
    problems: list[Problem] = []
    config: TenantConfig | None = None
    try:
        config = TenantConfig.model_validate(data)
        sections = Sections.of(config)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, data, file))
        sections = salvage_sections(data)
    context = Context(file, data, sections)
    for check in SECTION_CHECKS:
        check(context)
    problems.extend(context.problems)
    problems = list(dict.fromkeys(problems))
    if any(problem.is_error for problem in problems):
        config = None
    return config, problems
