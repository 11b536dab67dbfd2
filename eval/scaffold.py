"""`python -m eval new`: build a case from flags or questions asked in the terminal, check it, append it."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from eval.schema import CASE_ID, ROUTES, VERDICTS, Case, parse_case_file

Ask = Callable[[str], str]


def slug(text: str, limit: int = 48) -> str:
    """Return a case id made from a question."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = "-".join(words)[:limit].strip("-")
    return out if out and re.match(CASE_ID, out) else "case"


def _split(values: str | list[str] | None) -> list[str]:
    """Return comma-separated flag values as a flat list."""
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def case_from_answers(values: dict[str, Any]) -> dict[str, Any]:
    """Return the YAML mapping of a case from flag or prompt values; empty values are left out."""
    case: dict[str, Any] = {"id": values.get("id") or slug(values.get("question") or "")}
    case["question"] = values["question"]
    profile = {k: values.get(k) for k in ("plan", "billing", "signup_date") if values.get(k)}
    if profile:
        case["profile"] = profile
    if values.get("route"):
        case["route"] = values["route"]
    sections = _split(values.get("sections"))
    if sections:
        case["sections"] = sections
    if values.get("model"):
        tool = {"model": values["model"]}
        for key in ("variant", "verdict"):
            if values.get(key):
                tool[key] = values[key]
        case["expect_tool"] = tool
    include = [[p.strip() for p in item.split("|") if p.strip()] for item in values.get("include") or []]
    if include:
        case["must_include"] = include
    exclude = [_claim(v) for v in values.get("exclude") or [] if v.strip()]
    if exclude:
        case["must_not_include"] = exclude
    evidence = [[p.strip() for p in item.split("|") if p.strip()] for item in values.get("evidence") or []]
    if evidence:
        case["evidence"] = evidence
    case["tags"] = _split(values.get("tags")) or ["docs"]
    case["priority"] = values.get("priority") or "standard"
    return case


def _claim(value: str) -> str | dict[str, Any]:
    """Return a forbidden claim: plain text, or 're:PATTERN => EXAMPLE' as a pattern with the phrasing it catches."""
    if not value.startswith("re:"):
        return value
    pattern, _, example = value[3:].partition("=>")
    catches = [e.strip() for e in example.split("|") if e.strip()]
    return {"re": pattern.strip(), "catches": catches} if catches else value


def interview(values: dict[str, Any], ask: Ask, anchors: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """Ask for every value not given on the command line (Enter skips an optional one)."""
    def want(key: str, prompt: str, *, required: bool = False, choices: tuple[str, ...] = ()) -> None:
        while not values.get(key):
            hint = f" [{'/'.join(choices)}]" if choices else ""
            answer = ask(f"{prompt}{hint}{'' if required else ' (Enter to skip)'}: ").strip()
            if not answer and not required:
                return
            if choices and answer not in choices:
                continue
            values[key] = answer

    def want_list(key: str, prompt: str) -> None:
        if values.get(key):
            return
        items = []
        while answer := ask(f"{prompt} (one per line, empty line to finish): ").strip():
            items.append(answer)
        values[key] = items

    want("question", "Customer question", required=True)
    want("id", f"Case id (default {slug(values['question'])})")
    want("route", "Expected route", choices=ROUTES)
    if anchors and not values.get("sections"):
        print("Sections of the help center (anchor: title):")
        for line in anchors:
            print(f"  {line}")
    want_list("sections", "Section anchor that answers it, e.g. image-models")
    if values.get("sections"):
        want_list("evidence", "Quote the page wording the answer relies on (alternatives separated by |)")
    want("model", "Model the eligibility check is about, e.g. seedream-4.0")
    if values.get("model"):
        want("variant", "Variant (1k, 2k, 4k, low, medium)")
        want("verdict", "Expected verdict", choices=VERDICTS)
    want("plan", "Customer plan (Plus, Premium, Max, Pro, Business)")
    want("billing", "Billing (monthly, annual)")
    want("signup_date", "Signup date YYYY-MM-DD")
    want_list("include", "A fact the answer must contain (alternatives separated by |)")
    want_list("exclude", "A claim the answer must not make (text, or re:regex => a phrasing it must catch)")
    values["exclude"] = [_with_example(v, ask) for v in values.get("exclude") or []]
    want("tags", "Tags, comma-separated (default docs)")
    want("priority", "Priority", choices=("critical", "standard"))
    return values


def _with_example(value: str, ask: Ask) -> str:
    """Ask for a phrasing a regular expression must catch, when none was given."""
    if not value.startswith("re:") or "=>" in value:
        return value
    example = ask(f"A phrasing {value[3:]!r} must catch (it is checked): ").strip()
    return f"{value} => {example}" if example else value


def check_new(case: dict[str, Any], existing_ids: set[str], problems: Callable[[Case], list[str]]) -> list[str]:
    """Return why the case cannot be added: schema errors, a taken id, unknown sections or models."""
    if case["id"] in existing_ids:
        return [f"case id {case['id']!r} is already used; pass --id"]
    try:
        parsed = Case.model_validate(case)
    except ValidationError as err:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
    return problems(parsed)


def append_case(path: Path, case: dict[str, Any]) -> str:
    """Append one case to a case file (created if missing) and return the YAML written."""
    text = yaml.safe_dump([case], allow_unicode=True, sort_keys=False, width=110)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Cases added with `python -m eval new`.\n"
    sep = "" if existing.endswith("\n") else "\n"
    path.write_text(existing + sep + "\n" + text, encoding="utf-8")
    cases, errors = parse_case_file(path)
    if errors:
        path.write_text(existing, encoding="utf-8")
        raise SystemExit("the file would no longer be valid, nothing written:\n" + "\n".join(errors))
    return text
