"""Deterministic scorers: pure functions of the answer and the case, each with a reason."""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from eval.numbers import unsupported

TOOL_SUFFIX = "eligibility"
PROFILE_TOOL = "eligibility_profile"
ARG_FIELDS = ("variant", "plan", "billing", "signup_date")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


@dataclass(frozen=True)
class Score:
    """One check of one case: did it pass, its value, and why."""

    name: str
    passed: bool
    value: float | int | str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return asdict(self)


def normalize(text: str) -> str:
    """Return text folded for phrase matching: NFKC, no case, plain quotes and dashes, no markdown marks."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = re.sub(r"\*\*|__|`", "", text)
    return re.sub(r"\s+", " ", text).strip()


def contains(text: str, phrase: str) -> bool:
    """Return True when phrase occurs in text (normalised); a 're:' phrase is a regex, case-insensitive."""
    if phrase.startswith("re:"):
        return re.search(phrase[3:], normalize(text), re.I | re.S) is not None
    return normalize(phrase) in normalize(text)


def route_score(expected: Sequence[str], actual: str) -> Score:
    """Check the route against the acceptable ones."""
    ok = actual in expected
    want = " or ".join(expected)
    return Score("route", ok, actual, f"route {actual}" + ("" if ok else f", expected {want}"))


def retrieval_score(expected: Iterable[str], retrieved: Sequence[str], k: int) -> Score:
    """Check that an expected section is among the first k retrieved; value is the reciprocal rank."""
    wanted = set(expected)
    rank = next((n for n, sid in enumerate(retrieved, 1) if sid in wanted), None)
    rr = 1.0 / rank if rank else 0.0
    short = ", ".join(s.split("#")[-1] for s in sorted(wanted))
    if rank is None:
        got = ", ".join(s.split("#")[-1] for s in retrieved[:k]) or "nothing"
        return Score("retrieval", False, 0.0, f"none of [{short}] retrieved; got [{got}]")
    ok = rank <= k
    return Score("retrieval", ok, rr, f"expected section at rank {rank}" + ("" if ok else f" (beyond top {k})"))


def required_facts(answer: str, must_include: Sequence[Sequence[str]]) -> Score:
    """Check that every required fact appears in one of its phrasings; value is the share found."""
    missing = [alts for alts in must_include if not any(contains(answer, a) for a in alts)]
    share = 1.0 - len(missing) / len(must_include) if must_include else 1.0
    if not missing:
        return Score("required_facts", True, share, f"all {len(must_include)} facts present")
    said = "; ".join(" | ".join(repr(a) for a in alts) for alts in missing)
    return Score("required_facts", False, share, f"missing: {said}")


def forbidden_claims(answer: str, must_not_include: Sequence[str]) -> Score:
    """Check that no forbidden claim appears."""
    found = [c for c in must_not_include if contains(answer, c)]
    if not found:
        return Score("forbidden_claims", True, 0, f"none of {len(must_not_include)} forbidden claims present")
    return Score("forbidden_claims", False, len(found), "says " + "; ".join(repr(c) for c in found))


def language_score(expected: str, actual: str) -> Score:
    """Check that the answer is in the customer's language."""
    ok = expected == actual
    return Score("language", ok, actual, f"answered in {actual}" + ("" if ok else f", expected {expected}"))


def citation_score(sources: Sequence[Mapping[str, Any]], resolve: Callable[[Mapping[str, Any]], str | None],
                   retrieved: Sequence[str], require: bool) -> Score:
    """Check that every cited section exists on the pages and was retrieved for this turn."""
    problems = []
    for src in sources:
        sid = resolve(src)
        label = src.get("section_id") or src.get("url") or src.get("section") or "?"
        if sid is None:
            problems.append(f"{label} is not a section of the help center")
        elif sid not in retrieved:
            problems.append(f"{sid.split('#')[-1]} was cited but not retrieved")
    if require and not sources:
        problems.append("no source cited")
    if problems:
        return Score("citations", False, len(problems), "; ".join(problems))
    return Score("citations", True, len(sources), f"{len(sources)} citation(s), each a section the turn retrieved or the tool cited")


def invented_numbers(answer: str, support: str, known_links: set[str] | frozenset[str] = frozenset(),
                     mask: Callable[[str], str] | None = None, masked_support: str | None = None) -> Score:
    """Check that every date, quantity ('2 credits'), number and link in the answer is in the retrieved text or tool results."""
    extra = unsupported(answer, support, known_links, mask, masked_support)
    if extra:
        return Score("no_invented_numbers", False, len(extra), "not in retrieved text or tool result: " + ", ".join(extra))
    return Score("no_invented_numbers", True, 0, "every date, number and link is supported")


def evidence_score(evidence: Sequence[Sequence[str]], context: str) -> Score:
    """Check that the retrieved sections contain the page wording the case relies on (any phrasing of each)."""
    missing = [alts for alts in evidence if not any(contains(context, e) for e in alts)]
    if missing:
        said = "; ".join(" | ".join(repr(a) for a in alts) for alts in missing)
        return Score("evidence", False, len(evidence) - len(missing), f"the retrieved and cited sections lack {said}")
    return Score("evidence", True, len(evidence), "the retrieved and cited sections contain the page wording")


def eligibility_calls(tool_calls: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the eligibility tool calls of a turn."""
    return [t for t in tool_calls if str(t.get("name", "")).endswith(TOOL_SUFFIX)]


Claims = Callable[[str], list[tuple[str, str]]]


def tool_consistency(tool_calls: Sequence[Mapping[str, Any]], evaluate: Callable[[Mapping[str, Any]], Mapping[str, Any]],
                     table: Callable[[Mapping[str, Any]], Sequence[Mapping[str, Any]]] | None = None, *,
                     facts: Mapping[str, Any] | None = None, canon: Canon | None = None,
                     answer: str | None = None, claims: Claims | None = None) -> Score:
    """Check each eligibility call: made with the customer's own facts, equal to the engine's verdict, and said as such.

    `facts` are the plan, billing and signup date the customer gave (a call must not carry others); `claims` reads
    what the answer text asserts about each model ((model id, verdict) pairs), which must be the call's verdict.
    """
    calls = eligibility_calls(tool_calls)
    problems = []
    fold_value = canon or fold
    said = claims(answer) if (claims and answer is not None) else None
    firsts: set[str] = set()
    for call in calls:
        args = call.get("args") or {}
        result = call.get("result") or {}
        label = str(args.get("model", "?"))
        problems += _call_problems(label, result, _safe(evaluate, args))
        if label in firsts:
            continue  # a second reading of the same question (the last day of a month, the other date order)
        firsts.add(label)
        for key in ("plan", "billing", "signup_date"):
            given = (facts or {}).get(key, ...)
            used = args.get(key)
            if given is ... or used in (None, ""):
                continue  # nothing known to compare with, or nothing used
            if given is None or fold_value(key, used) != fold_value(key, given):
                problems.append(f"{label}: called with {key} {used!r} but the customer gave {given!r}" if given is not None
                                else f"{label}: called with {key} {used!r} that the customer never gave")
        if said is not None and result.get("verdict") in ("unlimited", "uses_credits"):
            mid = (result.get("model") or {}).get("id") if isinstance(result.get("model"), Mapping) else None
            stated = {v for m, v in said if m == mid}
            if stated and stated != {result["verdict"]}:
                problems.append(f"{label}: the answer says {' and '.join(sorted(stated))}, the check said {result['verdict']}")
    tables = [t for t in tool_calls if str(t.get("name", "")) == PROFILE_TOOL] if table else []
    for call in tables:
        truth = _safe(table, call.get("args") or {})  # type: ignore[arg-type]
        rows = (call.get("result") or {}).get("rows") or []
        if "error" in truth:
            problems.append(f"profile table: engine refuses the inputs ({truth['error']})")
            continue
        expected = {_row_key(r): r for r in truth["rows"]}
        if set(expected) != {_row_key(r) for r in rows}:
            problems.append("profile table: rows differ from the engine's models")
        for row in rows:
            if row.get("verdict") == "unknown" and "signup_date" in (row.get("missing") or []):
                continue  # declining to decide for a month-precise signup contradicts nothing
            problems += _call_problems(_row_key(row), row, expected.get(_row_key(row), {}), keys=("verdict", "rule_id"))
    n = len(calls) + len(tables)
    if problems:
        return Score("tool_consistency", False, len(problems), "; ".join(problems))
    return Score("tool_consistency", True, n, f"{n} call(s) agree with the engine")


def _safe(fn: Callable[[Mapping[str, Any]], Any], args: Mapping[str, Any]) -> Any:
    """Return fn(args), or {'error': message} when the engine refuses the input."""
    try:
        out = fn(args)
    except Exception as err:  # an input the engine refuses must not carry a verdict
        return {"error": str(getattr(err, "message", err))}
    return {"rows": out} if isinstance(out, list) else out


def _row_key(row: Mapping[str, Any]) -> str:
    """Return 'model' or 'model variant' for a verdict row."""
    model = row.get("model") or {}
    mid = model.get("id") if isinstance(model, Mapping) else str(model)
    return f"{mid} {row['variant']}" if row.get("variant") else str(mid)


def _call_problems(label: str, result: Mapping[str, Any], truth: Mapping[str, Any],
                   keys: tuple[str, ...] = ("verdict", "rule_id", "expires_on")) -> list[str]:
    """Return how one verdict in the answer differs from the engine's."""
    if "error" in truth or "error" in result:
        if ("error" in truth) != ("error" in result):
            return [f"{label}: answer has {_verdict_text(result)}, engine has {_verdict_text(truth)}"]
        return []
    return [f"{label}: {key} {result.get(key)!r} in the answer, engine says {truth.get(key)!r}"
            for key in keys if result.get(key) != truth.get(key)]


def _verdict_text(result: Mapping[str, Any]) -> str:
    """Return a verdict or an error in a few words."""
    if "error" in result:
        err = result["error"]
        return f"error {err.get('message', err) if isinstance(err, Mapping) else err}"
    return f"verdict {result.get('verdict')!r}"


Resolve = Callable[[str, str | None], tuple[str, str | None]]
Canon = Callable[[str, Any], str]


def tool_expectation(tool_calls: Sequence[Mapping[str, Any]], expected: Mapping[str, Any] | str,
                     resolve: Resolve, canon: Canon | None = None) -> Score:
    """Check the expected eligibility call was made with the expected inputs and gave the expected verdict."""
    calls = eligibility_calls(tool_calls)
    if expected == "none":
        if calls:
            names = ", ".join(str((c.get("args") or {}).get("model")) for c in calls)
            return Score("tool_call", False, len(calls), f"expected no eligibility call, got {names}")
        return Score("tool_call", True, 0, "no eligibility call, as expected")
    assert isinstance(expected, Mapping)
    want = resolve(str(expected["model"]), expected.get("variant"))
    matching = []
    for call in calls:
        args = call.get("args") or {}
        try:
            got = resolve(str(args.get("model", "")), args.get("variant") or None)
        except Exception:
            continue
        if got[0] == want[0]:
            matching.append((call, got))
    if not matching:
        made = ", ".join(str((c.get("args") or {}).get("model")) for c in calls) or "none"
        return Score("tool_call", False, 0, f"no eligibility call for {want[0]} (calls: {made})")
    problems: list[str] = []
    for call, got in matching:
        problems = _arg_problems(call, got, want, expected, canon or fold)
        if not problems:
            verdict = (call.get("result") or {}).get("verdict")
            return Score("tool_call", True, str(verdict), f"{want[0]}: {verdict}")
    return Score("tool_call", False, str((matching[-1][0].get("result") or {}).get("verdict")), f"{want[0]}: " + "; ".join(problems))


def _arg_problems(call: Mapping[str, Any], got: tuple[str, str | None], want: tuple[str, str | None],
                  expected: Mapping[str, Any], canon: Canon) -> list[str]:
    """Return how one call differs from the expected inputs and verdict."""
    args = call.get("args") or {}
    result = call.get("result") or {}
    problems = []
    if want[1] is not None and got[1] != want[1]:
        problems.append(f"variant {got[1]!r}, expected {want[1]!r}")
    for key in ("plan", "billing", "signup_date"):
        if expected.get(key) is not None and canon(key, args.get(key)) != canon(key, expected[key]):
            problems.append(f"{key} {args.get(key)!r}, expected {str(expected[key])!r}")
    for key in ("verdict", "rule_id"):
        if expected.get(key) is not None and result.get(key) != expected[key]:
            problems.append(f"{key} {result.get(key)!r}, expected {expected[key]!r}")
    return problems


def answer_verdict(expected: str, model: str, said: Sequence[tuple[str, str]], label: str = "") -> Score:
    """Check what the answer asserts about the model the case is about: its verdict, read from the text.

    "Unlimited only for Premium members" is not "unlimited"; a note that chatting "still uses credits" is not a
    verdict about the model. For an expected 'unknown', the answer must assert neither.
    """
    name = label or model
    stated = sorted({v for m, v in said if m == model})
    if expected == "unknown":
        ok = not stated
        return Score("answer_verdict", ok, ",".join(stated) or "none",
                     f"{name}: the answer {'decides nothing, as expected' if ok else 'says ' + ' and '.join(stated) + ', the rules cannot decide'}")
    if stated == [expected]:
        return Score("answer_verdict", True, expected, f"{name}: the answer says {expected.replace('_', ' ')}")
    if not stated:
        return Score("answer_verdict", False, "none", f"{name}: the answer never says whether it is unlimited or uses credits")
    return Score("answer_verdict", False, ",".join(stated), f"{name}: the answer says {' and '.join(stated)}, expected {expected}")


def fold(key: str, value: Any) -> str:
    """Return a value folded for comparing plan, billing and dates across spellings."""
    return re.sub(r"[\W_]+", "", str(value or "")).casefold()


def support_text(retrieved_texts: Sequence[str], tool_calls: Sequence[Mapping[str, Any]], questions: Sequence[str],
                 fixed: str = "") -> str:
    """Return what an answer may take facts from: retrieved sections, tool calls, the customer's words, fixed wording."""
    calls = [json.dumps(t, ensure_ascii=False, default=str) for t in tool_calls]
    return "\n".join([*retrieved_texts, *calls, *questions, fixed])
