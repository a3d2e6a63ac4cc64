"""Multi-party settlement on the twin: with a creator share (导购提成) deployed, an install ticket
created by a user settles, the user's staff statement shows their line and the installer's earnings
are reduced by it (the share is taken out of the installer's, ``out_of: installer``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.adapters.tenant_configs import ConfigBucket
from shared.rules.conditions import Condition
from shared.settings import settings
from shared.tenant.models.settlement import PartyShare
from shared.tenant.transport import config_key, config_to_json, decode_object, encode_object
from tests.e2e.steps import at_technician, complete_and_confirm
from tests.e2e.test_settlement_flow import INSTALL, ON_SITE, TENANT, twin_period

D = Decimal
GUIDE_SHARE = PartyShare(
    party="creator",
    when=Condition.model_validate({"path": "ticket.type", "equals": "install"}),
    percent=D(5),
    out_of="installer",
)


@pytest.fixture
def guide_share(twin: LocalTwin) -> Iterator[None]:
    """acme-home deployed with a 5 % creator share, as a redeploy of an edited file writes its object;
    the deployed object as it was afterwards."""
    bucket, key = settings().config_bucket, config_key(TENANT)
    original = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    deployed = decode_object(original)
    cfg = deployed.config
    edited = cfg.model_copy(update={"catalog": cfg.catalog.model_copy(update={"shares": [GUIDE_SHARE]})})
    objects = ConfigBucket(bucket)
    objects.put(key, encode_object(config_to_json(edited), deployed.live))
    parameters.clear_caches()
    try:
        yield
    finally:
        objects.put(key, original)
        parameters.clear_caches()


@pytest.mark.usefixtures("guide_share")
def test_a_guides_share_shows_on_their_statement_and_reduces_the_installers(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    period = twin_period(agent)  # the month the shared clock is in
    # Given an install ticket created by u-lin (the guide who took the order)
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    dispatcher = anonymous.as_user(TENANT, "u-zhao", ["dispatcher", "supervisor"])
    ticket = at_technician(agent, dispatcher, ticket_id)
    technician_id = (ticket.get("dispatch") or {}).get("technician") or ticket["assignee"]["id"]
    technician = anonymous.as_user(TENANT, technician_id, ["technician"])

    # When the job is completed, confirmed and settled
    complete_and_confirm(technician, agent, ticket_id, ticket["version"], ON_SITE)
    closed = agent.wait_status(ticket_id, "closed")
    settlement = closed["settlement"]
    total, paid = D(settlement["total"]), D(settlement["earnings"])
    priced = (total * D(settlement["installer_share_percent"]) / 100).quantize(D("0.01"))  # 60 % / 85 %
    guide_amount = (total * 5 / 100).quantize(D("0.01"))  # 471.00 → 23.55 (t-wang), 396.00 → 19.80

    # Then the guide's statement shows the line, and the installer's earnings are reduced by it
    mine = agent.get(f"/staff/u-lin/earnings?period={period}")
    assert mine.status == 200, mine.body
    lines = [line for line in mine.body["lines"] if line["ticket_id"] == ticket_id]
    assert [(line["kind"], line["party"], D(line["amount"])) for line in lines] == [
        ("settlement", "creator", guide_amount)
    ]
    assert mine.body["user"] == "u-lin" and mine.body["currency"] == "CNY"
    statement = technician.get(f"/technicians/{technician_id}/earnings?period={period}").body
    installer = [D(line["amount"]) for line in statement["lines"] if line["ticket_id"] == ticket_id]
    assert installer == [priced - guide_amount] == [paid]  # 282.60 - 23.55 = 259.05 for t-wang
    assert [(p["party"], D(p["amount"])) for p in settlement["parties"]] == [
        ("installer", priced - guide_amount),
        ("creator", guide_amount),
    ]

    # And another user may not read it; finance may; an unknown user is a 404
    other = anonymous.as_user(TENANT, "u-zhao", ["supervisor"]).get(f"/staff/u-lin/earnings?period={period}")
    assert other.status == 403, other.body
    finance = anonymous.as_user(TENANT, "u-qian", ["finance"])
    assert finance.get(f"/staff/u-lin/earnings?period={period}").status == 200
    assert finance.get(f"/staff/u-nobody/earnings?period={period}").status == 404
    assert finance.get("/staff/u-lin/earnings?period=2026-13").status in (400, 422)
