"""The technician registry's rules (the /technicians API): who may change it, and which values fit.

Apart from ``service.py`` (the dispatch task) so that the API does not import the scoring and
notification code at its cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

REGISTRY_ROLES = ("dispatcher", "admin")


def known_skills(cfg: TenantConfig) -> set[str]:
    """Skills the tenant file mentions: technicians' and dispatch nodes' requirements."""
    skills = {skill for tech in cfg.technicians for skill in tech.skills}
    for ticket_type in cfg.ticket_types.values():
        for node in ticket_type.nodes.values():
            skills.update(node.skills)
    return skills


def check_changes(cfg: TenantConfig, changes: dict[str, Any]) -> None:
    """Regions and skills must be the tenant's: ``ValidationFailed`` with one entry per bad value."""
    problems: list[dict[str, Any]] = []
    regions = {r.code for r in cfg.regions}
    for i, code in enumerate(changes.get("regions") or []):
        if code not in regions:
            problems.append(
                {
                    "field": f"regions.{i}",
                    "message": f"unknown region '{code}'; known: {', '.join(sorted(regions))}",
                }
            )
    skills = known_skills(cfg)
    for name in changes.get("skills") or {}:
        if name not in skills:
            problems.append(
                {
                    "field": f"skills.{name}",
                    "message": f"unknown skill '{name}'; known: {', '.join(sorted(skills))}",
                }
            )
    if problems:
        raise ValidationFailed(f"{len(problems)} value(s) of the technician are not valid", problems)
