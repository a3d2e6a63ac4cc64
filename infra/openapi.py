"""The OpenAPI document of the whole HTTP API, merged from each service's powertools resolver.

Each HTTP function validates its own routes with its resolver; ``GET /openapi.json`` serves the
merged document, generated here at build time (``scrm openapi``) into
``functions/ticket/openapi.json`` so the ticket function can serve it without importing the
other services (cold start). A test keeps the committed file in step with the code.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

SERVICES = (
    "functions.ticket.handler",
    "functions.webhooks.handler",
    "functions.webhooks.ops_handler",
    "functions.dispatch.handler",
    "functions.settlement.handler",
)
OUTPUT = Path(__file__).resolve().parent.parent / "functions" / "ticket" / "openapi.json"
PUBLIC_PREFIXES = ("/webhooks/", "/forms/", "/openapi.json")


def build_document() -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "scrm work orders",
            "version": "1",
            "description": "Errors are JSON {error, message, details}. Callers other than webhooks and forms "
            "send Authorization: Bearer <JWT> (claims sub, tenant, roles).",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    for module_name in SERVICES:
        app = importlib.import_module(module_name).app
        schema = app.get_openapi_schema(title="scrm", version="1").model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        for path, operations in schema.get("paths", {}).items():
            merged = document["paths"].setdefault(path, {})
            for method, operation in operations.items():
                if not path.startswith(PUBLIC_PREFIXES):
                    operation["security"] = [{"bearer": []}]
                merged[method] = operation
        document["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    _document_errors(document)
    _link_tickets(document)
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "message", "details"],
    "properties": {
        "error": {"type": "string", "description": "a stable code: validation_failed, not_found, ..."},
        "message": {"type": "string", "description": "what is wrong, for a person"},
        "details": {"type": "array", "items": {}, "description": "per field: {field, message}"},
    },
}


def _document_errors(document: dict[str, Any]) -> None:
    """Every error answer is ``{error, message, details}`` (``shared/http.py``), not powertools'
    default ``HTTPValidationError``: document that shape for 422 and every other 4xx."""
    schemas = document["components"]["schemas"]
    schemas["Error"] = ERROR_SCHEMA
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses["422"] = {**error, "description": "Validation Error"}
            responses.setdefault("4XX", error)
    _keep_reachable(document)


TICKET_LINKS = {
    "GetTicket": ("get", "/tickets/{ticket_id}"),
    "TicketHistory": ("get", "/tickets/{ticket_id}/history"),
    "ActOnTicket": ("post", "/tickets/{ticket_id}/actions"),
    "CancelTicket": ("post", "/tickets/{ticket_id}/cancel"),
    "ChangeTicketFields": ("patch", "/tickets/{ticket_id}/fields"),
    "RetryTicket": ("post", "/tickets/{ticket_id}/retry"),
}


def _link_tickets(document: dict[str, Any]) -> None:
    """OpenAPI links from a created ticket to what can be done with it (clients and stateful tests
    follow them: ``ticket_id`` is the answer's ``id``)."""
    created = document["paths"].get("/tickets", {}).get("post", {}).get("responses", {})
    answer = created.get("201") or created.get("200")
    if answer is None:
        return
    links = {}
    for name, (method, path) in TICKET_LINKS.items():
        operation = document["paths"].get(path, {}).get(method)
        if operation is not None and operation.get("operationId"):
            links[name] = {
                "operationId": operation["operationId"],
                "parameters": {"ticket_id": "$response.body#/id"},
            }
    answer["links"] = links


def _keep_reachable(document: dict[str, Any]) -> None:
    """Drop the component schemas no path reaches (directly or through other schemas), so every
    ``$ref`` left points at a schema that exists and the document is valid OpenAPI."""
    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    reached: set[str] = set()
    pending = [document["paths"]]
    while pending:
        text = json.dumps(pending.pop())
        for piece in text.split(f'"{prefix}')[1:]:
            name = piece.split('"', 1)[0]
            if name not in reached and name in schemas:
                reached.add(name)
                pending.append(schemas[name])
    for name in [n for n in schemas if n not in reached and n != "Error"]:
        schemas.pop(name)


def render() -> str:
    return json.dumps(build_document(), indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def write() -> Path:
    OUTPUT.write_text(render(), encoding="utf-8")
    return OUTPUT
