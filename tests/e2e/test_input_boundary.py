"""One input boundary: every malformed request gets a 4xx in the documented shape, never a 5xx."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from infra.twin.client import Answer, TwinClient
from infra.twin.twin import LocalTwin
from tests.factories import INSTALL_FIELDS

CONSULT = {"customer_name": "边界", "customer_phone": "+8613900000300", "question": "q"}


def raw(agent: TwinClient, path: str, body: bytes, content_type: str = "application/json") -> Answer:
    return agent.request("POST", path, raw=body, headers={"content-type": content_type})


def shaped(answer: Answer, status: int, code: str) -> dict:
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error", "message", "details"} and answer.body["error"] == code, answer.body
    return dict(answer.body)


def test_a_json_body_of_another_content_type_is_415(agent: TwinClient) -> None:
    body = json.dumps({"type": "consult", "fields": CONSULT}).encode()
    for media in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        refused = shaped(raw(agent, "/tickets", body, media), 415, "unsupported_media_type")
        assert "application/json" in refused["message"]
        assert refused["details"][0]["field"] == "content-type"
    assert raw(agent, "/tickets", body, "application/json; charset=utf-8").status == 201


def test_deep_nesting_nan_and_malformed_json_are_400_with_where(agent: TwinClient) -> None:
    deep = '{"type":"consult","fields":{"question":' + "[" * 5000 + "]" * 5000 + "}}"
    shaped(raw(agent, "/tickets", deep.encode()), 400, "bad_request")
    for literal in ("NaN", "Infinity", "-Infinity"):
        body = f'{{"type":"consult","fields":{{"customer_name":{literal}}}}}'.encode()
        assert "finite" in shaped(raw(agent, "/tickets", body), 400, "bad_request")["message"]
    broken = shaped(raw(agent, "/tickets", b'{"type": "consult",\n "fields": {]}'), 400, "bad_request")
    assert broken["details"] == [{"field": "body", "message": broken["details"][0]["message"]}]
    assert "line 2" in broken["message"]
    huge_int = b'{"type":"consult","fields":{"customer_name":' + b"9" * 5000 + b"}}"
    shaped(raw(agent, "/tickets", huge_int), 400, "bad_request")


def test_a_lone_surrogate_is_422_naming_the_field(agent: TwinClient) -> None:
    body = b'{"type":"consult","fields":{"customer_name":"\\ud800","customer_phone":"+8613900000300"}}'
    refused = shaped(raw(agent, "/tickets", body), 422, "validation_failed")
    assert refused["details"][0]["field"] == "fields.customer_name"


def test_oversized_text_is_413_or_422_never_a_conflict(agent: TwinClient) -> None:
    big = agent.post("/tickets", {"type": "consult", "fields": {**CONSULT, "customer_name": "x" * 1_000_000}})
    shaped(big, 413, "payload_too_large")
    long = agent.post("/tickets", {"type": "consult", "fields": {**CONSULT, "customer_name": "x" * 100_000}})
    refused = shaped(long, 422, "validation_failed")
    assert refused["details"][0]["field"] == "customer_name"
    assert "at most" in refused["details"][0]["message"]


def test_unknown_list_filters_are_422_naming_what_exists(agent: TwinClient) -> None:
    refused = shaped(agent.get("/tickets?type=nope"), 422, "validation_failed")
    assert "consult" in refused["details"][0]["message"] and "install" in refused["details"][0]["message"]
    shaped(agent.get("/tickets?node=nowhere"), 422, "validation_failed")
    assert agent.get("/tickets?type=install&node=on_site").status == 200


def test_a_quantity_that_cannot_be_priced_never_reaches_settlement(agent: TwinClient) -> None:
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL_FIELDS})
    assert created.status == 201, created.body
    fields = {"photos": ["a", "b"], "service_items": [{"code": "SVC-AC-INSTALL", "quantity": "1e999999"}]}
    ticket = agent.wait_ready(created.body["id"], node="on_site")
    tech = TwinClient(agent.base_url).as_user("acme-home", ticket["assignee"]["id"], ["technician"])
    body = {"action": "complete", "fields": fields, "version": ticket["version"]}
    refused = shaped(tech.post(f"/tickets/{ticket['id']}/actions", body), 422, "validation_failed")
    assert refused["details"][0]["field"] == "service_items"


def test_ids_in_404s_are_decoded_and_the_http_layer_answers_json(twin: LocalTwin, agent: TwinClient) -> None:
    missing = shaped(agent.get("/tickets/TK-%E5%B7%A5%E5%8D%95"), 404, "not_found")
    assert "工单" in missing["message"]
    url = urlsplit(twin.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    connection.request("GET", "/tickets?type=" + "a" * 70_000)
    answer = connection.getresponse()
    assert answer.status == 414
    assert json.loads(answer.read())["error"] == "uri_too_long"
    connection.close()


def test_unrouted_requests_get_404_or_405_in_the_error_shape(agent: TwinClient) -> None:
    # API Gateway's $default route sends whatever no route matches to the ticket API
    wrong = shaped(agent.request("DELETE", "/tickets"), 405, "method_not_allowed")
    assert "GET, POST" in wrong["message"]
    assert agent.request("DELETE", "/tickets").headers["allow"] == "GET, POST"
    shaped(agent.get("/nowhere/at/all"), 404, "not_found")
    shaped(agent.request("PUT", "/tickets/TK-1/actions", {}), 405, "method_not_allowed")
