"""Industry starter templates for ``scrm init`` (issue 18): package data and how to fill them in.

Each template is a complete tenant file in this folder, listed in ``manifest.yaml`` (name, file,
title, one-line description, and the defaults ``scrm init`` offers). A template names the things
a new tenant chooses with ``string.Template`` placeholders, which are plain YAML scalars:

- ``${tenant_id}``: ``tenant.id`` and every secret reference (``/scrm/${tenant_id}/...``);
- ``${tenant_name}``: ``tenant.name``;
- ``${timezone}``: the tenant's and its calendars' time zone;
- ``${holidays}``: the calendars' public holidays (a country or subdivision code such as ``CN``).

``render`` fills them in (a ``$`` the template means literally is written ``$$``), and
``secrets_file`` writes the matching ``<tenant>.secrets.yaml``: one line per ``ssm:`` reference
of the rendered file, each with a value of the right shape made up for the local twin.
"""

from __future__ import annotations

import base64
import difflib
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FOLDER = Path(__file__).resolve().parent
MANIFEST = FOLDER / "manifest.yaml"
PLACEHOLDERS = ("tenant_id", "tenant_name", "timezone", "holidays")


@dataclass(frozen=True)
class Template:
    name: str
    file: str
    title: str
    description: str
    tenant_id: str
    tenant_name: str
    timezone: str = "Asia/Shanghai"
    holidays: str = "CN"

    @property
    def path(self) -> Path:
        return FOLDER / self.file

    def render(self, **values: str) -> str:
        """The template's text with its placeholders filled in (the template's defaults for the rest)."""
        unknown = set(values) - set(PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown placeholder(s): {', '.join(sorted(unknown))}")
        filled = {name: values.get(name) or getattr(self, name) for name in PLACEHOLDERS}
        return string.Template(self.path.read_text(encoding="utf-8")).substitute(filled)


def templates() -> list[Template]:
    """The templates in the manifest's order."""
    entries = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return [Template(**entry) for entry in entries or []]


def find(name: str) -> Template:
    """The template called `name`; `KeyError` says which exist."""
    known = templates()
    for template in known:
        if template.name == name:
            return template
    names = [t.name for t in known]
    close = [n for n in names if name in n] or difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise KeyError(f"no template '{name}'{hint}; known: {', '.join(names)}")


# --------------------------------------------------------------------------- the secrets file


def secret_references(data: Any) -> list[tuple[str, str]]:
    """(SSM name, kind) of every ``{ssm: ...}`` in a tenant file's data, in file order, once each.

    The kind is the key holding it (``token``, ``aes_key``, ``secret``) prefixed by the channel's
    platform or ``subscription``, which is what the made-up value must look like.
    """
    found: dict[str, str] = {}
    for channel in data.get("channels") or []:
        for key, value in channel.items():
            if isinstance(value, dict) and "ssm" in value:
                found.setdefault(str(value["ssm"]), f"{channel.get('platform')}.{key}")
    for subscription in data.get("subscriptions") or []:
        value = subscription.get("secret")
        if isinstance(value, dict) and "ssm" in value:
            found.setdefault(str(value["ssm"]), "subscription.secret")
    return list(found.items())


def made_up_value(kind: str) -> str:
    """A random value of the shape a secret of `kind` has (what the platform would issue)."""
    if kind == "wecom.aes_key":
        return base64.b64encode(secrets.token_bytes(32)).decode()[:43]  # EncodingAESKey: 43 characters
    if kind in ("standard-webhooks.secret", "subscription.secret"):
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return secrets.token_hex(16)


def secrets_file(tenant_file: str, text: str) -> str:
    """The ``.secrets.yaml`` matching a rendered tenant file (`tenant_file` is its file name)."""
    data = yaml.safe_load(text)
    lines = [
        f"# Secret values for the local twin: `scrm local {tenant_file}` reads this file beside it.",
        "# Made up by `scrm init`, so that signed sample deliveries work locally. In AWS each value",
        "# lives in SSM Parameter Store (SecureString) under the same name: put there the value the",
        "# platform gives you (the webhook secret, WeCom's token and EncodingAESKey, your CRM's whsec_).",
    ]
    for name, kind in secret_references(data):
        lines.append(f'"{name}": "{made_up_value(kind)}"   # {kind}')
    if len(lines) == 4:
        lines.append("{}   # this tenant file references no secret")
    return "\n".join(lines) + "\n"
