"""Errors a workflow Task raises to Step Functions, by the names the ASL's Catch and ops see.

Lambda reports an error by its class name; these classes carry the ``Scrm.*`` names.
"""

from __future__ import annotations

from shared.workflow.routing import LOOP_LIMIT_ERROR


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
