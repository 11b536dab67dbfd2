"""Check a model's answer against the tool results and the retrieved text it was given (pure)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answer.facts import MONTHS
from bot.eligibility import Engine, Verdict

MONTH_RX = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(rf"\b(?P<mon>{MONTH_RX})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[–-]\s*\d{{1,2}})?(?:,?\s+(?P<y>\d{{4}}))?", re.I),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{MONTH_RX})\.?(?:,?\s+(?P<y>\d{{4}}))?", re.I),
    re.compile(r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월(?:\s*(?P<d>\d{1,2})\s*일)?"),
)
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
URL = re.compile(r"https?://[^\s)\]>\"']+")
CITATION = re.compile(r"\[(\d{1,2})\]")
UNLIMITED = re.compile(r"unlimited|free of charge|\bfree\b|no credits?|doesn't (use|deduct)|does not (use|deduct)|무제한|무료", re.I)
NEGATED = re.compile(r"\b(not|isn't|aren't|never|no longer|isn’t)\b[^.]{0,25}(unlimited|free|covered|eligible)|"
                     r"무제한이 아니|무제한 대상이 아니|무료가 아니", re.I)
CREDITS = re.compile(r"uses? credits|deduct|charged|costs? credits|차감|크레딧이 (사용|들)", re.I)


@dataclass(frozen=True)
class Problem:
    """One reason the answer cannot be shown as the model wrote it."""

    kind: str
    detail: str


def _dates(text: str) -> set[tuple[int, int, int | None]]:
    """Return (month, day, year|None) for every date written in text."""
    out: set[tuple[int, int, int | None]] = set()
    for rx in DATE_PATTERNS:
        for m in rx.finditer(text):
            g = m.groupdict()
            month = MONTHS[g["mon"].lower()] if g.get("mon") else int(g["m"])
            day = int(g["d"]) if g.get("d") else 0
            year = int(g["y"]) if g.get("y") else None
            out.add((month, day, year))
    return out


def _date_known(d: tuple[int, int, int | None], known: set[tuple[int, int, int | None]]) -> bool:
    month, day, year = d
    return any(k[0] == month and (day == 0 or k[1] in (day, 0)) and (year is None or k[2] in (year, None))
               for k in known)


def _claim(sentence: str) -> str | None:
    """Return 'unlimited', 'uses_credits' or None for what a sentence says of a model."""
    if NEGATED.search(sentence) or CREDITS.search(sentence):
        return "uses_credits"
    if UNLIMITED.search(sentence):
        return "unlimited"
    return None


def check_answer(text: str, *, verdicts: list[Verdict], evidence: str, urls: set[str], sections: int,
                 engine: Engine) -> list[Problem]:
    """Return every grounding problem: contradicted or unchecked verdicts, unknown dates, numbers, links, citations."""
    problems: list[Problem] = []
    by_model = {v.model.id: v for v in verdicts}
    for sentence in re.split(r"(?<=[.!?。\n])\s+", text):
        mentioned = {m.model_id for m in engine.find_models_in_text(sentence)}
        if len(mentioned) != 1:
            continue
        (mid,) = mentioned
        claim = _claim(sentence)
        if claim is None or engine.book.spec.models[mid].kind == "agent":
            continue
        v = by_model.get(mid)
        if v is None:
            problems.append(Problem("unchecked_verdict", f"says {mid} {claim} without checking: {sentence[:120]}"))
        elif v.verdict != claim:
            problems.append(Problem("contradicts_tool", f"says {mid} {claim}, tool says {v.verdict}"))
    known_dates = _dates(evidence)
    for d in _dates(text):
        if not _date_known(d, known_dates):
            problems.append(Problem("unknown_date", f"date {d} is in neither the tool result nor the sources"))
    stripped = CITATION.sub(" ", URL.sub(" ", text))
    for rx in DATE_PATTERNS:
        stripped = rx.sub(" ", stripped)
    evidence_numbers = set(NUMBER.findall(evidence))
    for n in NUMBER.findall(stripped):
        if n not in evidence_numbers:
            problems.append(Problem("unknown_number", f"number {n} is in neither the tool result nor the sources"))
    for url in URL.findall(text):
        if url.rstrip(".,") not in urls:
            problems.append(Problem("unknown_link", f"link {url} was not retrieved"))
    for n in CITATION.findall(text):
        if not 1 <= int(n) <= sections:
            problems.append(Problem("bad_citation", f"[{n}] cites no retrieved section"))
    return problems
