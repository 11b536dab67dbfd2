"""Docs-team checks: validate every case against the pages and rules; list the cases a page change affects."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from eval.grading import expected_call
from eval.knowledge import Knowledge
from eval.schema import Case, LoadedCase, Pattern
from eval.scorers import contains


def case_problems(case: Case, knowledge: Knowledge, as_of: date) -> list[str]:
    """Return what is wrong with one case: unknown sections or models, a verdict the engine contradicts."""
    problems: list[str] = []
    wanted: list[str] = []
    for ref in case.sections:
        found = knowledge.resolve_section(ref)
        originals = [sid for sid in found if sid not in knowledge.twin_of]
        if not found:
            problems.append(f"unknown section {ref!r} (not on any parsed page)")
        elif len(originals) > 1:
            problems.append(f"section {ref!r} is on several pages; write PAGE#anchor ({', '.join(found)})")
        wanted += found
    if case.evidence:
        pool = [knowledge.texts[s] for s in wanted] if wanted else list(knowledge.texts.values())
        for alts in case.evidence:
            for quote in alts:
                if not any(contains(text, quote) for text in pool):
                    where = "the expected sections" if wanted else "any page"
                    problems.append(f"evidence {quote!r} is not in {where}")
    call = expected_call(case)
    if isinstance(call, dict):
        problems += _tool_problems(call, knowledge, case.today or as_of)
    problems += pattern_problems(case)
    if case.priority == "critical":
        problems += unrelated_problems(case, knowledge, wanted)
    return problems


def pattern_problems(case: Case) -> list[str]:
    """Check every regular expression catches the phrasings it is meant to catch (a typo must not go silent)."""
    out = []
    for claim in case.must_not_include:
        if isinstance(claim, Pattern):
            for example in claim.catches:
                if not contains(example, f"re:{claim.re}"):
                    out.append(f"pattern {claim.re!r} does not catch its example {example!r}: fix the pattern or the example")
        elif claim.startswith("re:"):
            out.append(f"pattern {claim[3:]!r} has no example: write {{re: {claim[3:]!r}, catches: [a phrasing it must catch]}}")
    return out


def unrelated_problems(case: Case, knowledge: Knowledge, wanted: list[str]) -> list[str]:
    """Check a critical case fails on answers about something else (every other section of the help center)."""
    related = set(wanted) | {knowledge.twin_of.get(s, s) for s in wanted} | {o for o, b in knowledge.twin_of.items() if b in wanted}
    call = expected_call(case)
    verdict = call.get("verdict") if isinstance(call, dict) else None
    model = None
    if verdict:
        try:
            model = knowledge.engine.resolve_model(str(call["model"]))[0]  # type: ignore[index]
        except Exception:
            model = None
    for sid, text in knowledge.texts.items():
        if sid in related or not text.strip():
            continue
        lang = "ko" if re.search(r"[\uac00-\ud7a3]", text) else "en"
        ok = all(any(contains(text, a) for a in alts) for alts in case.must_include)
        ok = ok and not any(contains(text, c) for c in case.forbidden)
        if model and verdict:
            said = {v for m, v in knowledge.claims(text, lang) if m == model}
            ok = ok and (said == {verdict} if verdict != "unknown" else not said)
        if ok:
            return [f"an unrelated answer would pass this critical case (the text of section {sid.split('#')[-1]!r}); "
                    "add a must_include fact that only the right answer has"]
    return []


def _tool_problems(call: dict[str, Any], knowledge: Knowledge, as_of: date) -> list[str]:
    """Check the expected call names a known model and that the engine gives the expected verdict."""
    engine = knowledge.engine
    try:
        mid, vid = engine.resolve_model(call["model"])
        if call.get("variant"):
            vid = engine.catalog.resolve_variant(mid, call["variant"])
    except Exception as err:
        return [f"expect_tool.model: {getattr(err, 'message', err)}"]
    problems = []
    if call.get("rule_id") and call["rule_id"] not in {r.id for r in engine.book.spec.rules} | _gate_ids(engine):
        problems.append(f"expect_tool.rule_id {call['rule_id']!r} is not a rule id")
    if call.get("verdict") is None:
        return problems
    try:
        truth = engine.evaluate(mid, vid, call.get("plan"), call.get("billing"), call.get("signup_date"), as_of=as_of)
    except Exception as err:
        return problems + [f"expect_tool: the engine refuses these inputs ({getattr(err, 'message', err)})"]
    if truth.verdict != call["verdict"]:
        inputs = ", ".join(f"{k}={call[k]}" for k in ("variant", "plan", "billing", "signup_date") if call.get(k))
        problems.append(f"expect_tool.verdict {call['verdict']!r} but the rules engine says {truth.verdict!r} "
                        f"for {mid} ({inputs or 'no profile'}; rule {truth.rule_id})")
    if call.get("rule_id") and truth.rule_id != call["rule_id"]:
        problems.append(f"expect_tool.rule_id {call['rule_id']!r} but the rules engine uses {truth.rule_id!r}")
    return problems


def _gate_ids(engine: Any) -> set[str]:
    """Return the ids of plan-wide rules (e.g. max-annual-signup)."""
    return {p.annual_rule.id for p in engine.book.spec.plans.values() if p.annual_rule}


def validate(cases: list[LoadedCase], knowledge: Knowledge, as_of: date) -> list[str]:
    """Return one line per problem, naming file and case."""
    return [f"{lc.file}: case {lc.case.id}: {p}" for lc in cases for p in case_problems(lc.case, knowledge, as_of)]


@dataclass
class Impact:
    """The cases that depend on a page (or one section of it), and through what."""

    target: str
    query: str = ""
    via_sections: dict[str, list[str]] = field(default_factory=dict)  # case id -> sections
    via_rules: dict[str, str] = field(default_factory=dict)  # case id -> model


def page_ref(arg: str, knowledge: Knowledge) -> tuple[str, str | None]:
    """Return (page id, anchor or None) for a page id, file path, URL or PAGE#anchor."""
    anchor = None
    if "#" in arg:
        arg, anchor = arg.split("#", 1)
    path = Path(arg)
    for pid, file in knowledge.page_files.items():
        if path.exists() and path.resolve() == file.resolve():
            return pid, anchor
    base = knowledge.settings.docs_base_url.rstrip("/") + "/"
    key = arg.removeprefix(base).removesuffix(".mdx").removesuffix(".md").strip("/")
    for pid in knowledge.page_files:
        if key == pid or key.endswith("/" + pid) or pid.endswith("/" + key):
            return pid, anchor
    raise SystemExit(f"no page {arg!r}; pages: {', '.join(knowledge.page_files)}")


def impact(arg: str, cases: list[LoadedCase], knowledge: Knowledge) -> Impact:
    """Return the cases a change affects: a page (or PAGE#anchor), the rules file, or one model."""
    rules = knowledge.settings.rules_file
    if Path(arg).exists() and Path(arg).resolve() == rules.resolve() or arg in ("rules", rules.name):
        found = _impact_rules(cases, knowledge, None)
        found.query = arg
        return found
    try:
        model = knowledge.engine.resolve_model(arg)[0] if "/" not in arg and "#" not in arg else None
    except Exception:
        model = None
    if model is not None:
        found = _impact_rules(cases, knowledge, model)
        found.query = arg
        return found
    pid, anchor = page_ref(arg, knowledge)
    target = f"{pid}#{anchor}" if anchor else pid
    if anchor and target not in knowledge.sections:
        known = ", ".join(sid.split("#", 1)[1] for sid in knowledge.sections if sid.startswith(pid + "#"))
        raise SystemExit(f"no section #{anchor} on {pid}; its anchors are: {known}")

    def on_target(sid: str) -> bool:
        return sid == target if anchor else sid == pid or sid.startswith(pid + "#")

    out = Impact(target)
    for lc in cases:
        case = lc.case
        hits = sorted({sid for ref in case.sections for sid in knowledge.resolve_section(ref) if on_target(sid)})
        if hits:
            out.via_sections[case.id] = hits
        call = expected_call(case)
        if isinstance(call, dict):
            try:
                cited = knowledge.model_sections(call["model"])
            except Exception:
                continue
            if any(on_target(sid) for sid in cited):
                out.via_rules[case.id] = call["model"]
    return out


def _impact_rules(cases: list[LoadedCase], knowledge: Knowledge, model: str | None) -> Impact:
    """Return the cases that check a model (or any model) with the rules engine, or expect its sections."""
    out = Impact(f"rules for {model}" if model else str(knowledge.settings.rules_file.name))
    cited = knowledge.model_sections(model) if model else set()
    for lc in cases:
        call = expected_call(lc.case)
        if isinstance(call, dict):
            try:
                mid = knowledge.engine.resolve_model(call["model"])[0]
            except Exception:
                continue
            if model is None or mid == model:
                out.via_rules[lc.case.id] = mid
        hits = sorted({sid for ref in lc.case.sections for sid in knowledge.resolve_section(ref) if sid in cited})
        if hits:
            out.via_sections[lc.case.id] = hits
    return out


def impact_text(result: Impact, cases: list[LoadedCase]) -> str:
    """Return the impact listing for people."""
    files = {lc.case.id: lc.file.name for lc in cases}
    ids = sorted(set(result.via_sections) | set(result.via_rules))
    lines = [f"{len(ids)} case(s) depend on {result.target}"]
    for cid in ids:
        why = []
        if cid in result.via_sections:
            why.append("sections " + ", ".join(s.split("#")[-1] or s for s in result.via_sections[cid]))
        if cid in result.via_rules:
            why.append(f"rules for {result.via_rules[cid]}")
        lines.append(f"  {cid:<40} {files[cid]:<20} {'; '.join(why)}")
    if ids:
        lines.append(f"run them: python -m eval run --page '{result.query or result.target}'")
    return "\n".join(lines)
