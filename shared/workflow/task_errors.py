"""Errors a workflow Task raises to Step Functions, by the names the ASL's Catch and ops see.

Lambda reports an error by its class name; these classes carry the ``Scrm.*`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.workflow.routing import LOOP_LIMIT_ERROR, resume_error, resume_target

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig


def _named(name: str, doc: str) -> type[Exception]:
    error = type(name.replace(".", "_"), (Exception,), {"__doc__": doc, "__module__": __name__})
    error.__name__ = error.__qualname__ = name
    return error


LoopLimitError = _named(
    LOOP_LIMIT_ERROR, "A node was visited past the cap; the Catch sends it to the Fail state."
)
NoCandidateError = _named("Scrm.NoCandidate", "Nobody fits and the node has no on_no_candidate route.")
SettlementFailed = _named(
    "Scrm.SettlementFailed", "The ticket cannot be priced; the execution fails visibly."
)
ConflictError = _named(
    "Scrm.Conflict",
    "The task's writes kept meeting another writer's (a transaction cancelled); the same input succeeds "
    "when sent again, so the Task's Retry sends it again (settlement nodes).",
)
UnavailableError = _named(
    "Scrm.Unavailable",
    "A store refused the task's writes after the SDK's retries (throttling); the Task's Retry sends it "
    "again later (settlement nodes).",
)


def resume_raised(node_name: str) -> Exception:
    """The error a plain (not callback) start node's Task raises to hand a retried execution to
    ``node_name``: ``Scrm.Resume.<node>``, which the start Task's Catch takes (see the compiler's
    doc). Lambda counts it as a function error: it only happens when an operator retries a failed
    ticket of a type whose start node is a plain system node (none of the example tenants'), once
    per retry; the errors alarm's description says so."""
    error = _named(resume_error(node_name), f"Hand a retried execution to the node {node_name}.")
    return error(f"a retried ticket resumes at {node_name}")


def check_resume(event: Mapping[str, Any], cfg: TenantConfig) -> None:
    """Raise ``resume_raised`` when a plain start node's Task of a retried execution must hand it
    to another node (``routing.resume_target``); return to run the node otherwise."""
    if not isinstance(event.get("resume_at"), str):
        return  # every Task but a start node's, and every first start
    ticket_type = cfg.ticket_types.get(str(event.get("type")))
    target = resume_target(event, ticket_type) if ticket_type is not None else None
    if target is not None:
        raise resume_raised(target)
