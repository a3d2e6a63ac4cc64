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


def test_missing_claims_are_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        caller_from_claims(None)
    with pytest.raises(Unauthorized):
        caller_from_claims({"sub": "u1"})
