"""The twin's IAM evaluator matches wildcards as IAM does (any character, line breaks included) and
evaluates ``${aws:PrincipalTag/...}`` from the session's tags (ABAC)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.twin.iam import Access, Unevaluable, _glob, allowed


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


# ----------------------------------------------------------------------------- policy variables (ABAC)
FENCE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [
                "arn:aws:dynamodb:us-east-1:1:table/scrm",
                "arn:aws:dynamodb:us-east-1:1:table/scrm/index/*",
            ],
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#${aws:PrincipalTag/tenant}#*"]}
            },
        }
    ],
}
TABLE = "arn:aws:dynamodb:us-east-1:1:table/scrm"


def test_the_leading_keys_fence_takes_the_sessions_tenant_tag() -> None:
    own = Access("dynamodb:GetItem", TABLE, ("TENANT#acme-home#TICKET#1",))
    other = Access("dynamodb:GetItem", TABLE, ("TENANT#bright-clean#TICKET#1",))
    prefix = Access("dynamodb:Query", f"{TABLE}/index/gsi1", ("TENANT#acme-home-2#TICKETS",))
    assert allowed([FENCE], own, {"tenant": "acme-home"})
    assert not allowed([FENCE], other, {"tenant": "acme-home"})
    assert not allowed([FENCE], prefix, {"tenant": "acme-home"})  # the '#' after the id
    assert allowed([FENCE], other, {"tenant": "bright-clean"})


def test_a_session_without_the_tag_is_allowed_nothing() -> None:
    own = Access("dynamodb:GetItem", TABLE, ("TENANT#acme-home#TICKET#1",))
    assert not allowed([FENCE], own, {})
    assert not allowed([FENCE], own, {"team": "acme-home"})


def test_a_variable_the_twin_does_not_know_is_not_evaluated() -> None:
    document = json.loads(json.dumps(FENCE).replace("aws:PrincipalTag/tenant", "aws:username"))
    own = Access("dynamodb:GetItem", TABLE, ("TENANT#acme-home#TICKET#1",))
    with pytest.raises(Unevaluable):
        allowed([document], own, {"tenant": "acme-home"})
