"""What every tenant-file model shares: the frozen, strict base model and the message helpers.

Names with a leading underscore here (`_Model`, `_a`, `_show`) are for the modules of this
package only; `shared.tenant.models` does not export them.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    # defer_build: a model's validator is built when it first validates, not at import; a function
    # that decodes a tenant configuration pays for it on its first event, not on every cold start
    # (code that only imports these models for types pays nothing).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def did_you_mean(value: str, choices: Any) -> str:
    """`" (did you mean 'x'?)"` when `value` looks like a typo of one of `choices`, else `""`."""
    close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
