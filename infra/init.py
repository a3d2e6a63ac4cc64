"""``scrm init``: a new tenant's file from an industry template (``shared/templates``).

```
scrm init --list
scrm init                                         # on a terminal: asks for what is not given
scrm init --template auto-dealer --tenant-id star-auto --name 星辰汽车 --out tenants/star-auto.yaml
```

It writes the tenant file (the template with the tenant's id, name, time zone and public holidays
filled in, comments kept) and ``<stem>.secrets.yaml`` beside it (each ``ssm:`` reference with a
made-up value of the right shape, for the local twin), checks the tenant file as ``scrm validate``
does, and prints the commands that come next. It never overwrites a file unless ``--force``.

Questions are asked only when standard input is a terminal and ``--no-input`` is not given; a
script passes flags (the template's defaults fill in the rest) and gets exit status 2 and one line
per wrong value otherwise.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import available_timezones

from shared.templates import Template, find, secrets_file, templates

TENANT_ID = re.compile(r"[a-z0-9-]{3,32}")


@dataclass
class Answers:
    template: Template
    tenant_id: str
    tenant_name: str
    timezone: str
    holidays: str
    out: Path


def list_templates(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    known = templates()
    width = max(len(t.name) for t in known)
    for template in known:
        print(f"  {template.name:<{width}}  {template.title}: {template.description}", file=out)
    print(f"\n{len(known)} templates; scrm init --template NAME [--tenant-id ID] [--name TEXT]", file=out)
    return 0


# --------------------------------------------------------------------------- checking answers


def tenant_id_problem(value: str) -> str | None:
    if TENANT_ID.fullmatch(value):
        return None
    return (
        f"tenant id {value!r} must be 3-32 of a-z, 0-9 and '-' (it prefixes every key of the tenant's data)"
    )


def timezone_problem(value: str) -> str | None:
    if value in available_timezones():
        return None
    from shared.tenant.models import did_you_mean

    return (
        f"unknown time zone {value!r}{did_you_mean(value, sorted(available_timezones()))}; e.g. Asia/Shanghai"
    )


def holidays_problem(value: str) -> str | None:
    from shared.tenant.checks.sla import _holiday_problem

    return _holiday_problem(value)


def name_problem(value: str) -> str | None:
    return None if value.strip() and "\n" not in value else "the name must be one line of text"


# --------------------------------------------------------------------------- asking


def _ask(
    question: str,
    default: str,
    problem: Callable[[str], str | None],
    read: Callable[[str], str],
    out: TextIO,
) -> str:
    while True:
        answer = read(f"{question} [{default}]: ").strip() or default
        wrong = problem(answer)
        if wrong is None:
            return answer
        print(f"  {wrong}", file=out)


def _pick_template(read: Callable[[str], str], out: TextIO) -> Template:
    known = templates()
    for number, template in enumerate(known, 1):
        print(f"  {number}. {template.name}: {template.title} ({template.description})", file=out)
    names = {t.name: t for t in known}
    while True:
        answer = read(f"template (1-{len(known)} or a name) [1]: ").strip() or "1"
        if answer.isdigit() and 1 <= int(answer) <= len(known):
            return known[int(answer) - 1]
        if answer in names:
            return names[answer]
        print(f"  no template {answer!r}; pick a number from 1 to {len(known)}", file=out)


def gather(
    args: Any, *, interactive: bool, read: Callable[[str], str] = input, out: TextIO | None = None
) -> tuple[Answers | None, list[str]]:
    """The answers from the flags, asking on a terminal for what is missing; or the problems."""
    out = out or sys.stdout
    problems: list[str] = []
    if args.template:
        try:
            template = find(args.template)
        except KeyError as exc:
            return None, [str(exc.args[0])]
    elif interactive:
        template = _pick_template(read, out)
    else:
        names = ", ".join(t.name for t in templates())
        return None, [f"--template: which one? Without a terminal nothing is asked; choose one of {names}"]

    checks: list[tuple[str, str, str, Callable[[str], str | None]]] = [
        ("tenant_id", "tenant id", template.tenant_id, tenant_id_problem),
        ("name", "company name", template.tenant_name, name_problem),
        ("timezone", "time zone", template.timezone, timezone_problem),
        ("holidays", "public holidays of (country or subdivision)", template.holidays, holidays_problem),
    ]
    values: dict[str, str] = {}
    for key, question, default, problem in checks:
        given = getattr(args, key)
        if given is None and interactive:
            values[key] = _ask(question, default, problem, read, out)
            continue
        value = default if given is None else str(given)
        wrong = problem(value)
        if wrong:
            problems.append(f"--{key.replace('_', '-')}: {wrong}")
        values[key] = value
    if problems:
        return None, problems
    out_path = Path(args.out) if args.out else Path(f"{values['tenant_id']}.yaml")
    return (
        Answers(
            template=template,
            tenant_id=values["tenant_id"],
            tenant_name=values["name"],
            timezone=values["timezone"],
            holidays=values["holidays"],
            out=out_path,
        ),
        [],
    )


# --------------------------------------------------------------------------- writing


def secrets_path(tenant_file: Path) -> Path:
    return tenant_file.with_name(f"{tenant_file.stem}.secrets.yaml")


def render(answers: Answers) -> str:
    return answers.template.render(
        tenant_id=answers.tenant_id,
        tenant_name=_yaml_text(answers.tenant_name),
        timezone=answers.timezone,
        holidays=answers.holidays,
    )


def _yaml_text(value: str) -> str:
    """A name as a YAML scalar: plain when YAML reads it back as the same text, else double-quoted."""
    import json

    import yaml

    try:
        plain = yaml.safe_load(f"k: {value}")
    except yaml.YAMLError:
        plain = None
    if isinstance(plain, dict) and plain.get("k") == value:
        return value
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def problems_of(text: str) -> list[str]:
    """What ``scrm validate`` says about the rendered tenant file (errors and warnings)."""
    from shared.tenant.loader import check_tenant_files

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tenant.yaml"
        path.write_text(text, encoding="utf-8")
        check = check_tenant_files([path], with_secrets=False)[0]
        return [f"{p.path}: {p.message}" for p in check.problems]


def write(answers: Answers, *, force: bool, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    text = render(answers)
    problems = problems_of(text)
    if problems:  # a template that does not validate is a bug of the product, not of the answers
        for line in problems:
            print(f"error: template {answers.template.name}: {line}", file=sys.stderr)
        return 1
    secrets_at = secrets_path(answers.out)
    existing = [str(p) for p in (answers.out, secrets_at) if p.exists()]
    if existing and not force:
        verb = "exists" if len(existing) == 1 else "exist"
        taken = " and ".join(existing)
        print(f"error: {taken} {verb}; choose another --out or pass --force", file=sys.stderr)
        return 1
    answers.out.parent.mkdir(parents=True, exist_ok=True)
    answers.out.write_text(text, encoding="utf-8")
    secrets_at.write_text(secrets_file(answers.out.name, text), encoding="utf-8")
    _next_steps(answers, secrets_at, out)
    return 0


def _next_steps(answers: Answers, secrets_at: Path, out: TextIO) -> None:
    path = answers.out
    print(f"wrote {path} (template {answers.template.name}: {answers.template.title})", file=out)
    print(f"wrote {secrets_at} (made-up secret values for the local twin)", file=out)
    print("next:", file=out)
    print(f"  scrm validate {path}          # every problem, with its path and a fix", file=out)
    print(
        f"  scrm local {path}             # the twin on http://127.0.0.1:8400; token: POST /_local/token",
        file=out,
    )
    print(f"  scrm synth {path}             # the stacks to deploy (README: Onboarding, 4)", file=out)


def run_init(args: Any) -> int:
    if args.list:
        return list_templates()
    interactive = sys.stdin.isatty() and not args.no_input
    answers, problems = gather(args, interactive=interactive)
    if answers is None:
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    return write(answers, force=args.force)
