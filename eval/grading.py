"""Apply the scorers a case asks for to the answer of its last turn."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from eval import scorers as sc
from eval.knowledge import Knowledge
from eval.schema import Case

ANSWER_ROUTES = ("answer", "eligibility")


def expected_sections(case: Case, knowledge: Knowledge) -> set[str]:
    """Return the section ids a case names (anchors resolved on every page)."""
    return {sid for ref in case.sections for sid in knowledge.resolve_section(ref)}


def expected_call(case: Case) -> dict[str, Any] | str | None:
    """Return the expected eligibility call, its plan, billing and signup defaulting to the case profile."""
    if case.expect_tool is None or case.expect_tool == "none":
        return case.expect_tool
    want = case.expect_tool.model_dump(exclude_none=True)
    profile = case.profile
    for turn in case.turns:
        if turn.profile is not None:
            profile = turn.profile if profile is None else profile.merged(turn.profile)
    if profile is not None:
        for key, value in profile.model_dump(exclude_none=True).items():
            want.setdefault(key, value)
    return want


def make_evaluate(knowledge: Knowledge, as_of: date) -> Any:
    """Return a function re-running one tool call's arguments on the engine, as the JSON verdict."""

    def evaluate(args: Mapping[str, Any]) -> dict[str, Any]:
        verdict = knowledge.engine.evaluate(
            args.get("model", ""), args.get("variant") or None, args.get("plan") or None, args.get("billing") or None,
            args.get("signup_date") or None, as_of=args.get("as_of") or as_of,
        )
        return verdict.to_dict()

    return evaluate


def make_table(knowledge: Knowledge, as_of: date) -> Any:
    """Return a function re-running a profile-table call on the engine, as JSON rows."""

    def table(args: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows = knowledge.engine.profile_table(args.get("plan"), args.get("billing"), args.get("signup_date"),
                                              as_of=args.get("as_of") or as_of)
        return [r.to_dict() for r in rows]

    return table


def tool_sections(tool_calls: list[Mapping[str, Any]], knowledge: Knowledge) -> list[str]:
    """Return the sections the tool results cite (a verdict's source is text the answer was given)."""
    out: list[str] = []
    for call in tool_calls:
        result = call.get("result") or {}
        for verdict in [result, *(result.get("rows") or [])]:
            urls = [str((verdict.get("source") or {}).get("url", ""))]
            urls += [ref.url for ref in knowledge.engine.plan_sources(verdict.get("plan"))] if verdict.get("plan") else []
            for url in urls:
                sid = knowledge.urls.get(url.rstrip("/"))
                if sid and sid not in out:
                    out.append(sid)
    return out


def make_canon(knowledge: Knowledge) -> sc.Canon:
    """Return a function giving the catalog id of a plan or billing spelling (dates as ISO text)."""
    catalog = knowledge.engine.catalog

    def canon(key: str, value: Any) -> str:
        try:
            if key == "plan" and value:
                return catalog.resolve_plan(str(value))
            if key == "billing" and value:
                return catalog.resolve_billing(str(value))
        except Exception:
            pass
        return sc.fold(key, value)

    return canon


def grade(case: Case, answer: Mapping[str, Any], knowledge: Knowledge, *, as_of: date, k: int) -> list[sc.Score]:
    """Return every check the case asks for, plus the checks every answer gets."""
    scores: list[sc.Score] = []
    text = str(answer.get("answer", ""))
    retrieved = [str(r.get("section_id")) for r in answer.get("retrieved") or []]
    tool_calls = answer.get("tool_calls") or []
    given = list(dict.fromkeys(retrieved + tool_sections(tool_calls, knowledge)))
    if case.route:
        scores.append(sc.route_score(case.route, str(answer.get("route"))))
    if case.language:
        scores.append(sc.language_score(case.language, str(answer.get("language"))))
    wanted = expected_sections(case, knowledge)
    if case.sections:
        # Scored on what the bot itself used: its search results, then the sections its eligibility checks cite.
        scores.append(sc.retrieval_score(wanted, given, k))
    if case.evidence:
        context = "\n".join(knowledge.texts.get(sid, "") for sid in retrieved[:k] + tool_sections(tool_calls, knowledge))
        scores.append(sc.evidence_score(case.evidence, context))
    call = expected_call(case)
    engine = knowledge.engine
    lang = str(answer.get("language") or "en")
    if call is not None:
        scores.append(sc.tool_expectation(tool_calls, call, lambda m, v: _resolve(engine, m, v), make_canon(knowledge)))
        if isinstance(call, dict) and call.get("verdict"):
            mid, vid = _resolve(engine, str(call["model"]), call.get("variant"))
            if vid is None:  # the variant the bot checked, when the customer named one in the conversation
                vid = next((c["args"].get("variant") for c in sc.eligibility_calls(tool_calls)
                            if (c.get("result") or {}).get("model", {}).get("id") == mid and c["args"].get("variant")), None)
            said = knowledge.claims(text, lang, vid)
            scores.append(sc.answer_verdict(str(call["verdict"]), mid, said, engine.catalog.display(mid, vid)))
    if sc.eligibility_calls(tool_calls) or any(t.get("name") == sc.PROFILE_TOOL for t in tool_calls):
        scores.append(sc.tool_consistency(tool_calls, make_evaluate(knowledge, as_of), make_table(knowledge, as_of),
                                          facts=customer_facts(case), canon=make_canon(knowledge),
                                          answer=text, claims=lambda t: knowledge.claims(t, lang, _only_variant(tool_calls))))
    if case.must_include:
        scores.append(sc.required_facts(text, case.must_include))
    if case.must_not_include:
        scores.append(sc.forbidden_claims(text, case.forbidden))
    # An answer from the help center or the rules must cite where it comes from.
    require = str(answer.get("route")) in ANSWER_ROUTES
    scores.append(sc.citation_score(answer.get("sources") or [], knowledge.section_for_source, given, require))
    pieces = [knowledge.texts.get(sid, "") + "\n" + str(r.get("url", "")) for sid, r in zip(retrieved, answer.get("retrieved") or [])]
    support = sc.support_text(pieces, tool_calls, [t.text for t in case.turns], knowledge.fixed_text)
    # Model names are blanked piece by piece (the same sections come back case after case).
    masked = sc.support_text([knowledge.mask_models(p) for p in pieces], tool_calls, [t.text for t in case.turns], knowledge.fixed_text)
    scores.append(sc.invented_numbers(text, support, knowledge.known_links, knowledge.mask_models, masked_support=masked))
    return scores


def _only_variant(tool_calls: list[Mapping[str, Any]]) -> str | None:
    """Return the variant the turn's eligibility checks were about, when they name one."""
    variants = {c["args"].get("variant") for c in sc.eligibility_calls(tool_calls)}
    return next(iter(variants)) if len(variants) == 1 else None


def customer_facts(case: Case) -> dict[str, Any]:
    """Return the plan, billing and signup date the customer gave: the case profile, turn profiles, expected call."""
    facts: dict[str, Any] = {}
    if case.profile is not None:
        facts |= case.profile.model_dump(exclude_none=True)
    for turn in case.turns:
        if turn.profile is not None:
            facts |= turn.profile.model_dump(exclude_none=True)
    call = case.expect_tool
    if call is not None and call != "none":
        facts |= {k: v for k, v in call.model_dump(include={"plan", "billing", "signup_date"}).items() if v is not None}
    return facts


def _resolve(engine: Any, model: str, variant: str | None) -> tuple[str, str | None]:
    """Return (model id, variant id) for a spelling and an optional variant."""
    mid, vid = engine.resolve_model(model)
    if variant:
        vid = engine.catalog.resolve_variant(mid, variant)
    return mid, vid
