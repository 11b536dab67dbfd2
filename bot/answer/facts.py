"""Read a customer's plan, billing cycle, signup date and models from what they wrote."""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime

import dateparser
from dateutil.relativedelta import relativedelta

from bot.eligibility import Engine, Mention

MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for m in names}
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
ORD = r"(?:st|nd|rd|th)?"
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
# Tried in order; each match is removed from the text before the next pattern runs.
DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ymd", re.compile(r"(?<!\d)(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})(?!\d)")),
    ("ko", re.compile(r"(?P<rel>작년|지난해|올해|재작년)?\s*(?:(?P<y>\d{4})\s*년\s*)?(?P<m>\d{1,2})\s*월(?:\s*(?P<d>\d{1,2})\s*일)?")),
    ("mdy", re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2}|\d{4})(?![\d/])")),
    ("text", re.compile(rf"\b{MONTH}\s+(?P<d>\d{{1,2}}){ORD},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("text", re.compile(rf"\b(?P<d>\d{{1,2}}){ORD}\s+(?:of\s+)?{MONTH},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("text", re.compile(rf"\b{MONTH},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("ago", re.compile(r"\b(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
                       r"(?P<unit>day|week|month|year)s?\s+ago\b", re.I)),
    ("rel", re.compile(rf"\b(?P<rel>last|this)\s+{MONTH}\b", re.I)),
    ("rel", re.compile(r"\b(?P<rel>last|this)\s+(?P<unit>month|year)\b", re.I)),
    ("text", re.compile(rf"\b(?:since|in|joined|signed up|subscribed|from)\s+(?:on\s+)?{MONTH}(?:\s+(?P<d>\d{{1,2}}){ORD})?\b", re.I)),
    ("year", re.compile(r"\b(?:since|in|joined|signed up in|subscribed in)\s+(?P<y>20\d\d)\b", re.I)),
    ("day", re.compile(r"\b(?:joined|signed up|subscribed|started)\s+(?P<w>yesterday|today)\b", re.I)),
]
BILLING = [
    ("annual", re.compile(r"\b(annual(ly)?|yearly|per year|a year plan|year plan|12[- ]month)\b|연간|연 ?결제|연 ?구독|1년 ?구독", re.I)),
    ("monthly", re.compile(r"\b(monthly|month[- ]to[- ]month|per month|every month)\b|월간|월 ?결제|월 ?구독|매월", re.I)),
]


@dataclass(frozen=True)
class SignupSpan:
    """When the customer joined: one day, or the first and last day it could be."""

    start: date
    end: date
    text: str

    @property
    def exact(self) -> bool:
        """Return True when the day is known."""
        return self.start == self.end


@dataclass
class Facts:
    """What one message says about the customer and the models they ask about."""

    plan: str | None = None
    billing: str | None = None
    signup: SignupSpan | None = None
    date_problem: str | None = None
    date_problem_text: str = ""
    models: list[Mention] = field(default_factory=list)

    def has_profile_facts(self) -> bool:
        """Return True when the message states a plan, billing cycle or signup date."""
        return bool(self.plan or self.billing or self.signup or self.date_problem)


def extract_facts(text: str, engine: Engine, today: date) -> Facts:
    """Return the facts stated in text, relative to today."""
    facts = Facts(models=_models(text, engine))
    rest = _blank(text, [(m.start, m.end) for m in facts.models])
    facts.billing = next((name for name, rx in BILLING if rx.search(rest)), None)
    facts.plan = _plan(rest, engine)
    _signup(rest, today, facts)
    return facts


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Return text with spans replaced by spaces (keeps offsets)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _models(text: str, engine: Engine) -> list[Mention]:
    """Return model mentions, picking up a variant named elsewhere in the sentence ("Nanobanana Pro at 4K")."""
    out = []
    for m in engine.find_models_in_text(text):
        if m.variant is None:
            variants = engine.book.spec.models[m.model_id].variants
            for vid, spec in variants.items():
                names = [spec.name, vid, *getattr(spec, "aliases", ())]
                if any(re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text, re.I) for n in names):
                    m = Mention(m.model_id, vid, m.start, m.end, m.text, m.score)
                    break
        out.append(m)
    return out


def _plan(text: str, engine: Engine) -> str | None:
    """Return the plan id named in text (model names already blanked, so 'Flux2 Pro' is no plan)."""
    found: list[tuple[int, str]] = []
    for pid, spec in engine.book.spec.plans.items():
        for name in (spec.name, pid, *spec.aliases):
            hangul = bool(re.search(r"[\uac00-\ud7a3]", name))
            rx = re.escape(name) if hangul else rf"\b{re.escape(name)}\b"
            m = re.search(rx, text, re.I)
            if m:
                found.append((m.start(), pid))
    return min(found)[1] if found else None


def _signup(text: str, today: date, facts: Facts) -> None:
    """Find the first date in text and store it as the signup span (or the problem with it)."""
    for kind, rx in DATE_PATTERNS:
        for m in rx.finditer(text):
            try:
                span = _span(kind, m, today)
            except ValueError:
                facts.date_problem, facts.date_problem_text = "bad_date", m.group(0).strip()
                return
            if span is None:
                continue
            if span.start > today:
                facts.date_problem, facts.date_problem_text = "future_date", m.group(0).strip()
                return
            facts.signup = SignupSpan(span.start, min(span.end, today), m.group(0).strip())
            return


def _month_span(year: int, month: int, text: str) -> SignupSpan:
    return SignupSpan(date(year, month, 1), date(year, month, monthrange(year, month)[1]), text)


def _recent(month: int, today: date, strictly_before: bool = False) -> int:
    """Return the year of the most recent past occurrence of a month."""
    if month < today.month or (month == today.month and not strictly_before):
        return today.year
    return today.year - 1


def _span(kind: str, m: re.Match[str], today: date) -> SignupSpan | None:
    """Turn one match into a span; raise ValueError for a date that does not exist."""
    g = m.groupdict()
    text = m.group(0).strip()
    if kind in ("ymd", "mdy"):
        year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0)
        day = date(year, int(g["m"]), int(g["d"]))  # raises ValueError for 2026-02-30
        return SignupSpan(day, day, text)
    if kind == "ko":
        month = int(g["m"])
        if not 1 <= month <= 12:
            raise ValueError(text)
        if g.get("y"):
            year = int(g["y"])
        elif g.get("rel") in ("작년", "지난해"):
            year = today.year - 1
        elif g.get("rel") == "재작년":
            year = today.year - 2
        elif g.get("rel") == "올해":
            year = today.year
        else:
            year = _recent(month, today)
        if g.get("d"):
            day = date(year, month, int(g["d"]))
            return SignupSpan(day, day, text)
        return _month_span(year, month, text)
    if kind == "text":
        month = MONTHS[g["month"].lower()]
        year = int(g["y"]) if g.get("y") else _recent(month, today)
        if g.get("d"):
            parsed = dateparser.parse(f"{g['month']} {g['d']} {year}", languages=["en"],
                                      settings={"STRICT_PARSING": True})
            if parsed is None:
                raise ValueError(text)
            return SignupSpan(parsed.date(), parsed.date(), text)
        return _month_span(year, month, text)
    if kind == "ago":
        n = int(g["n"]) if g["n"].isdigit() else NUMBER_WORDS[g["n"].lower()]
        unit = g["unit"].lower()
        day = today - relativedelta(**{f"{unit}s": n})
        if unit in ("day", "week"):
            return SignupSpan(day, day, text)
        return _month_span(day.year, day.month, text) if unit == "month" else SignupSpan(
            date(day.year, 1, 1), date(day.year, 12, 31), text)
    if kind == "rel":
        if g.get("month"):
            month = MONTHS[g["month"].lower()]
            year = _recent(month, today, strictly_before=g["rel"].lower() == "last")
            if g["rel"].lower() == "this":
                year = today.year
            return _month_span(year, month, text)
        if g["unit"].lower() == "month":
            ref = today - relativedelta(months=1 if g["rel"].lower() == "last" else 0)
            return _month_span(ref.year, ref.month, text)
        year = today.year - (1 if g["rel"].lower() == "last" else 0)
        return SignupSpan(date(year, 1, 1), date(year, 12, 31), text)
    if kind == "year":
        year = int(g["y"])
        return SignupSpan(date(year, 1, 1), date(year, 12, 31), text)
    if kind == "day":
        day = today - relativedelta(days=1 if g["w"].lower() == "yesterday" else 0)
        return SignupSpan(day, day, text)
    return None


def parse_profile_date(value: str | date | None) -> date | None:
    """Return a date from an ISO string given with a request profile; raise ValueError if impossible."""
    if value is None or isinstance(value, date):
        return value
    return datetime.strptime(value.strip(), "%Y-%m-%d").date()
