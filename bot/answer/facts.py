"""Read a customer's plan, billing cycle, signup date and models from what they wrote, as people write them."""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

import dateparser
import holidays as holiday_calendars
from dateutil.relativedelta import relativedelta

from bot.answer.cues import Cues
from bot.eligibility import Engine, Mention

MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for m in names}
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
ORD = r"(?:st|nd|rd|th)?"
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
JOINED = r"(?:joined|signed up|subscribed|started|upgraded|bought|purchased)"
# Tried in order; each match is removed from the text before the next pattern runs.
DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("ymd", re.compile(r"(?<!\d)(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})(?!\d)")),
    ("ym", re.compile(r"(?<![\d/])(?P<y>20\d\d)[-./](?P<m>\d{1,2})(?![\d/-]|\.\d)")),
    ("ko", re.compile(r"(?P<rel>작년|지난해|올해|재작년)?\s*(?:(?P<y>\d{4})\s*년\s*)?(?P<m>\d{1,2})\s*월(?:\s*(?P<d>\d{1,2})\s*일)?")),
    ("mdy", re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2}|\d{4})(?![\d/])")),
    ("text", re.compile(rf"\b{MONTH}\s+(?P<d>\d{{1,2}}){ORD},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("text", re.compile(rf"\b(?P<d>\d{{1,2}}){ORD}\s+(?:of\s+)?{MONTH},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("text", re.compile(rf"\b{MONTH},?\s+(?P<y>\d{{4}})\b", re.I)),
    ("ago", re.compile(r"\b(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
                       r"(?P<unit>day|week|month|year)s?\s+ago\b", re.I)),
    ("rel", re.compile(rf"\b(?P<rel>last|this)\s+{MONTH}\b", re.I)),
    ("rel", re.compile(r"\b(?P<rel>last|this)\s+(?P<unit>month|year)\b", re.I)),
    ("text", re.compile(rf"\b(?:since|in|joined|signed up|subscribed|from|on)\s+(?:on\s+)?{MONTH}(?:\s+(?P<d>\d{{1,2}}){ORD})?\b", re.I)),
    ("year", re.compile(r"\b(?:since|in|joined|signed up in|subscribed in|back in)\s+(?P<y>20\d\d)\b", re.I)),
    ("day", re.compile(r"\b(?:joined|signed up|subscribed|started)\s+(?P<w>yesterday|today)\b", re.I)),
    # "signed up last week" (a week is said only of joining: "last week my credits dropped" is not a signup date).
    ("week", re.compile(rf"\b{JOINED}\b[^.?!]{{0,30}}?\b(?P<rel>last|this)\s+week\b", re.I)),
    ("week", re.compile(rf"\b(?P<rel>last|this)\s+week\b(?=[^.?!]{{0,30}}\b{JOINED}\b)", re.I)),
    # 지난주에 가입했어요, 어제 구독했는데: a relative day said of joining.
    ("ko_rel", re.compile(r"(?P<w>재작년|작년|지난해|올해|지난\s?달|저번\s?달|이번\s?달|지난\s?주|저번\s?주|이번\s?주|그저께|어제|오늘)"
                          r"(?:에|에는)?(?=[^.?!]{0,20}(?:가입|구독|결제|업그레이드))")),
]
# A day without its month ("it was the 10th", "10일이었어요"): completes a month given earlier.
DAY_ONLY = [re.compile(r"\b(?:it was |on |the day was )?the (?P<d>\d{1,2})(?:st|nd|rd|th)\b", re.I),
            re.compile(r"(?<![\d월])(?:^|(?<=\s))(?P<d>\d{1,2})\s*일(?:이었|이에요|이요|에|이|이었어요)?(?:\s|$|[.!?])")]
BILLING = [
    ("annual", re.compile(r"\b(?:annual(?:ly)?|yearly|per year|a year plan|year plan|12[- ]month)\b|연간|연 ?결제|연 ?구독|1년 ?구독", re.I)),
    ("monthly", re.compile(r"\b(?:monthly|month[- ]to[- ]month|per month|every month)\b|월간|월 ?결제|월 ?구독|매월", re.I)),
]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Korean particles and words that may follow a plan name ("프로예요", "맥스 플랜"), so '프로필' is not 'Pro'.
KO_AFTER = re.compile(r"^(?:$|[\s.,!?~)]|이|가|은|는|을|를|도|로|으로|의|에|와|과|랑|만|요|예요|이에요|입니다|이고|인데|회원|플랜|요금제|연간|월간)")


@dataclass(frozen=True)
class SignupSpan:
    """When the customer joined: one day, or the first and last day it could be, or two readings of one date."""

    start: date
    end: date
    text: str
    precision: str = "day"  # day | month | year | range
    alternatives: tuple[date, ...] = ()

    @property
    def exact(self) -> bool:
        """Return True when the day is known for sure."""
        return self.start == self.end and not self.alternatives


@dataclass
class Facts:
    """What one message says about the customer and the models they ask about."""

    plan: str | None = None
    billing: str | None = None
    signup: SignupSpan | None = None
    day_only: int | None = None
    as_of: date | None = None
    date_problem: str | None = None
    date_problem_text: str = ""
    models: list[Mention] = field(default_factory=list)
    unknown_versions: list[str] = field(default_factory=list)  # "Kling 2.5": a known model, a version not named
    corrected: bool = False

    def has_profile_facts(self) -> bool:
        """Return True when the message states a plan, billing cycle or signup date."""
        return bool(self.plan or self.billing or self.signup or self.date_problem or self.day_only)


def extract_facts(text: str, engine: Engine, today: date, cues: Cues) -> Facts:
    """Return the facts stated in text, relative to today."""
    facts = Facts()
    facts.models = _models(text, engine, facts.unknown_versions)
    rest = _blank(text, [(m.start, m.end) for m in facts.models])
    facts.corrected = cues.has("correction", text)
    facts.billing = _pick(rest, [(name, m) for name, rx in BILLING for m in rx.finditer(rest)], cues)
    facts.plan = _plan(rest, engine, cues)
    _signup(rest, today, facts, cues)
    return facts


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Return text with spans replaced by spaces (keeps offsets)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _negated(text: str, start: int, end: int, cues: Cues) -> bool:
    """Return True when a mention is denied: 'not annual', 'instead of Premium', '연간이 아니라'."""
    before = cues.rx.get("negation_before")
    after = cues.rx.get("negation_after")
    return bool((before and before.search(text[max(0, start - 24):start])) or (after and after.search(text[end:end + 12])))


def _pick(text: str, found: list[tuple[str, re.Match[str]]], cues: Cues) -> str | None:
    """Return the value the customer affirms: 'monthly, not annual' is monthly, whatever comes first."""
    kept = [(m.start(), name) for name, m in found if not _negated(text, m.start(), m.end(), cues)]
    if not kept:
        return None
    return min(kept)[1]


def _models(text: str, engine: Engine, unknown_versions: list[str]) -> list[Mention]:
    """Return model mentions, picking up a variant named elsewhere in the sentence ("Nanobanana Pro at 4K");
    known names followed by a version the pages do not name are added to unknown_versions."""
    out = []
    for m in engine.catalog.find_models_in_text(text, unknown_versions=unknown_versions):
        if m.variant is None:
            variants = engine.book.spec.models[m.model_id].variants
            for vid, spec in variants.items():
                names = [spec.name, vid, *spec.aliases, *((spec.ko,) if spec.ko else ())]
                if any(re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text, re.I) for n in names):
                    m = Mention(m.model_id, vid, m.start, m.end, m.text, m.score)
                    break
        out.append(m)
    return out


def _plan(text: str, engine: Engine, cues: Cues) -> str | None:
    """Return the plan id named in text; 'max length' or '프로필' is no plan, 'Pro, not Premium' is Pro."""
    found: list[tuple[str, re.Match[str]]] = []
    after_ok = cues.rx.get("plan_context_after")
    before_ok = cues.rx.get("plan_context_before")
    not_plan = cues.rx.get("not_a_plan_after")
    for pid, names in engine.catalog.plan_spellings().items():
        for name in names:
            hangul = bool(HANGUL.search(name))
            rx = re.escape(name) if hangul else rf"\b{re.escape(name)}\b"
            for m in re.finditer(rx, text, re.I):
                tail = text[m.end():m.end() + 24]
                if hangul and not KO_AFTER.match(tail):
                    continue
                if not hangul and not_plan and re.match(rf"\s*{not_plan.pattern}", tail, re.I):
                    continue  # "the max length of a clip"
                # An everyday word ("max", "pro", "plus") in lower case is a plan only next to plan words.
                if not hangul and m.group(0).islower() and len(name) <= 4:
                    near_after = after_ok and re.match(rf"\s*(?:\w+\s+){{0,2}}{after_ok.pattern}", tail, re.I)
                    near_before = before_ok and re.search(rf"{before_ok.pattern}\s*(?:\w+\s+)?$", text[max(0, m.start() - 24):m.start()], re.I)
                    if not (near_after or near_before):
                        continue
                found.append((pid, m))
    return _pick(text, found, cues)


def _signup(text: str, today: date, facts: Facts, cues: Cues) -> None:
    """Find the signup date, a future day asked about ("still unlimited in March 2027?"), or a day completing a month."""
    taken: list[tuple[int, int]] = []
    for kind, rx in [*DATE_PATTERNS, ("holiday", _holiday_rx(tuple(cues.holidays)))]:
        if rx is None:
            continue
        for m in rx.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken) or _negated(text, m.start(), m.end(), cues):
                continue
            try:
                span = _holiday(m, today, cues) if kind == "holiday" else _span(kind, m, today)
            except ValueError:
                if facts.signup is None:
                    facts.date_problem, facts.date_problem_text = "bad_date", m.group(0).strip()
                return
            if span is None:
                continue
            taken.append((m.start(), m.end()))
            if span.start > today:
                signup_words = re.search(r"(?:joined|signed up|subscribed|started|since|가입)\W*(?:\w+\W+){0,2}$", text[:m.start()], re.I)
                if not signup_words and (cues.has("future_day", text) or cues.has("until_when", text)):
                    facts.as_of = facts.as_of or span.start  # "will it still be unlimited in March 2027?"
                    continue
                if facts.signup is None:
                    facts.date_problem, facts.date_problem_text = "future_date", m.group(0).strip()
                return
            if facts.signup is None:
                facts.signup = replace(span, end=min(span.end, today))
    if facts.signup is None and facts.as_of is None:
        for rx in DAY_ONLY:
            m = rx.search(text)
            if m and 1 <= int(m.group("d")) <= 31:
                facts.day_only = int(m.group("d"))
                return


@lru_cache(maxsize=8)
def _holiday_rx(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """Return the pattern of every named day, with an optional year."""
    if not names:
        return None
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?:(?P<rel>last|this)\s+)?(?P<h>{alts})(?:\s*(?:of\s+)?(?P<y>20\d\d))?", re.I)


def _holiday(m: re.Match[str], today: date, cues: Cues) -> SignupSpan:
    """Return the day of a named holiday ('Black Friday 2025'); without a year, the last one before today."""
    spec = cues.holidays[m.group("h").casefold()]
    years = [int(m.group("y"))] if m.group("y") else [today.year, today.year - 1]
    for year in years:
        day = holiday_day(spec.holiday, spec.country, year - (1 if spec.next_year else 0)) + timedelta(days=spec.days)
        if m.group("y") or day <= today:
            return SignupSpan(day, day, m.group(0).strip())
    raise ValueError(m.group(0))


@lru_cache(maxsize=256)
def holiday_day(name: str, country: str, year: int) -> date:
    """Return the day a holiday falls on in a year (from the `holidays` calendar, any language it names it in)."""
    for language in (None, "ko", "en_US"):
        try:
            calendar = holiday_calendars.country_holidays(country, years=year, language=language)
        except (NotImplementedError, KeyError):
            continue
        for day, title in sorted(calendar.items()):
            if title.casefold() == name.casefold():
                return day
    raise ValueError(f"no {name} in the {country} calendar for {year}")


def _month_span(year: int, month: int, text: str) -> SignupSpan:
    return SignupSpan(date(year, month, 1), date(year, month, monthrange(year, month)[1]), text, "month")


def _recent(month: int, today: date, strictly_before: bool = False) -> int:
    """Return the year of the most recent past occurrence of a month."""
    if month < today.month or (month == today.month and not strictly_before):
        return today.year
    return today.year - 1


def warm_up() -> None:
    """Parse one date now: the date parser compiles its tables on first use (~0.4 s), not on a customer's message."""
    dateparser.parse("March 1 2026", languages=["en"], settings={"STRICT_PARSING": True})


def _span(kind: str, m: re.Match[str], today: date) -> SignupSpan | None:
    """Turn one match into a span; raise ValueError for a date that does not exist."""
    g = m.groupdict()
    text = m.group(0).strip()
    if kind == "ymd":
        day = date(int(g["y"]), int(g["m"]), int(g["d"]))  # raises ValueError for 2026-02-30
        return SignupSpan(day, day, text)
    if kind == "ym":
        if not 1 <= int(g["m"]) <= 12:
            raise ValueError(text)
        return _month_span(int(g["y"]), int(g["m"]), text)
    if kind == "mdy":
        year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0)
        month, day_n = int(g["m"]), int(g["d"])
        if month > 12 and day_n <= 12:
            month, day_n = day_n, month  # 25/12/2025 can only be day first
        first = date(year, month, day_n)
        other = None
        if month != day_n and day_n <= 12:
            other = date(year, day_n, month)  # 01/03/2026: January 3 or March 1
        return SignupSpan(first, first, text, alternatives=(other,) if other and other <= today else ())
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
            parsed = dateparser.parse(f"{g['month']} {g['d']} {year}", languages=["en"], settings={"STRICT_PARSING": True})
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
            date(day.year, 1, 1), date(day.year, 12, 31), text, "year")
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
        return SignupSpan(date(year, 1, 1), date(year, 12, 31), text, "year")
    if kind == "year":
        year = int(g["y"])
        return SignupSpan(date(year, 1, 1), date(year, 12, 31), text, "year")
    if kind == "day":
        day = today - relativedelta(days=1 if g["w"].lower() == "yesterday" else 0)
        return SignupSpan(day, day, text)
    if kind == "week":
        return _week_span(today, 1 if g["rel"].lower() == "last" else 0, text)
    if kind == "ko_rel":
        w = re.sub(r"\s", "", g["w"])
        if w in ("재작년", "작년", "지난해", "올해"):
            year = today.year - {"재작년": 2, "작년": 1, "지난해": 1}.get(w, 0)
            return SignupSpan(date(year, 1, 1), min(date(year, 12, 31), today), text, "year")
        if w.endswith("달"):
            ref = today - relativedelta(months=0 if w == "이번달" else 1)
            return _month_span(ref.year, ref.month, text)
        if w.endswith("주"):
            return _week_span(today, 0 if w == "이번주" else 1, text)
        day = today - relativedelta(days={"그저께": 2, "어제": 1}.get(w, 0))
        return SignupSpan(day, day, text)
    return None


def _week_span(today: date, weeks_back: int, text: str) -> SignupSpan:
    """Return the days of this week (to today) or of a past week, Monday to Sunday."""
    monday = today - relativedelta(days=today.weekday(), weeks=weeks_back)
    return SignupSpan(monday, min(monday + relativedelta(days=6), today), text, "range")


def parse_profile_date(value: str | date | None) -> date | None:
    """Return a date from an ISO string given with a request profile; raise ValueError if impossible."""
    if value is None or isinstance(value, date):
        return value
    return datetime.strptime(value.strip(), "%Y-%m-%d").date()
