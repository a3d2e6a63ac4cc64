from __future__ import annotations

import pytest

from shared.errors import Unauthorized
from shared.identity import caller_from_claims


def test_twin_and_cognito_claim_shapes_give_the_same_caller() -> None:
    twin = caller_from_claims({"sub": "u1", "tenant": "acme-home", "roles": "[agent dispatcher]"})
    cognito = caller_from_claims(
        {"sub": "u1", "custom:tenant": "acme-home", "cognito:groups": ["agent", "dispatcher"]}
    )
    assert twin == cognito
    assert twin.roles == {"agent", "dispatcher"}


def test_a_cognito_users_file_id_is_the_caller_not_the_uuid_sub() -> None:
    caller = caller_from_claims(
        {
            "sub": "7f3c0a52-1b2e-4d7a-9a63-3c1f0f5b2e11",
            "custom:user": "t-wang",
            "custom:tenant": "acme-home",
            "cognito:groups": ["technician"],
        }
    )
    assert caller.sub == "t-wang" and caller.tenant == "acme-home"


def test_missing_claims_are_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(None)
    with pytest.raises(Unauthorized):
        caller_from_claims({"sub": "u1"})
