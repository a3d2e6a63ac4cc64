"""The twin's IAM evaluator matches wildcards as IAM does: any character, line breaks included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from infra.twin.iam import _glob


@given(st.text())
def test_a_star_matches_any_key_suffix(suffix: str) -> None:
    # A delivery id may hold any character (a generated one held \n, \r and U+2028): still the tenant's
    assert _glob("TENANT#acme-home#*", f"TENANT#acme-home#{suffix}")
    assert not _glob("TENANT#acme-home#*", f"TENANT#other#{suffix}")


def test_a_question_mark_is_one_character_and_case_is_kept_unless_asked() -> None:
    assert _glob("dynamodb:Get?tem", "dynamodb:GetItem")
    assert _glob("a?b", "a\nb")
    assert not _glob("dynamodb:getitem", "dynamodb:GetItem")
    assert _glob("dynamodb:getitem", "dynamodb:GetItem", ignore_case=True)
