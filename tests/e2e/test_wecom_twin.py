"""The twin's emulated WeCom API (``/_local/wecom/cgi-bin/...``): tokens only for a deployed
tenant's ``wecom_app`` with the secret the twin stored, messages only with a live token and the
corp's agent, each delivered message in ``GET /_local/messages`` with ``channel: "wecom"``.

The SLA level that sends over WeCom is exercised end to end in ``test_reminders_twin.py``.
"""

from __future__ import annotations

from typing import Any

from infra.twin.client import TwinClient

ACME_SECRET = "wecom-app-secret-demo"  # examples/tenants/acme-home.secrets.yaml


def token(client: TwinClient, corp: str, secret: str) -> dict[str, Any]:
    answer = client.get(f"/_local/wecom/cgi-bin/gettoken?corpid={corp}&corpsecret={secret}")
    assert answer.status == 200
    return answer.body


def send(client: TwinClient, access_token: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"/_local/wecom/cgi-bin/message/send?access_token={access_token}", body)
    assert answer.status == 200
    return answer.body


def test_the_emulated_wecom_checks_the_app_and_records_what_it_delivers(anonymous: TwinClient) -> None:
    # Given tokens asked with a wrong corp and a wrong secret: refused as WeCom refuses them
    assert token(anonymous, "ww-nobody", ACME_SECRET)["errcode"] == 40013
    assert token(anonymous, "ww-demo", "not-the-secret")["errcode"] == 40001
    # When acme-home's application asks with its secret
    issued = token(anonymous, "ww-demo", ACME_SECRET)
    assert issued["errcode"] == 0 and issued["expires_in"] == 7200
    text = {"msgtype": "text", "agentid": 1000002, "text": {"content": "测试消息\n[SLA TK-E2E yellow]"}}
    # Then a message needs a live token, the corp's agent and a member of the tenant file
    assert send(anonymous, "forged", {**text, "touser": "ZhaoGang"})["errcode"] == 40014
    assert (
        send(anonymous, issued["access_token"], {**text, "agentid": 1, "touser": "ZhaoGang"})["errcode"]
        == 40056
    )
    assert send(anonymous, issued["access_token"], {**text, "touser": "Nobody"})["errcode"] == 81013
    sent = send(anonymous, issued["access_token"], {**text, "touser": "ZhaoGang|Nobody"})
    assert (sent["errcode"], sent["invaliduser"]) == (0, "Nobody")
    # And the one delivered message is in /_local/messages, in the shape of the SMS entries
    got = [m for m in anonymous.get("/_local/messages").body["messages"] if m["ticket_id"] == "TK-E2E"]
    assert [(m["channel"], m["to"], m["level"], m["subject"]) for m in got] == [
        ("wecom", "ZhaoGang", "yellow", None)
    ]
    assert got[0]["at"] == anonymous.get("/_local/clock").body["now"]
