"""Read what a text says about models: unlimited or credits, for whom, since and until when (pure).

The same reader serves three readers of text: `check-rules` (the help page against the rules), the
eval (what an answer asserts) and the answer check in LLM mode (what a model wrote). Its words are
data: knowledge/rules/phrases.yaml.
"""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError
from bot.eligibility.catalog import Catalog
from bot.mdx import strip_markdown

MONTHS = {m: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for m in names}
_MON = r"(?P<{g}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DASH = r"\s*(?:–|—|-|~|to|through)\s*"
# Date forms, longest first; each yields a Span (first and last day) and whether the year was given.
DATE_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)")),
    ("ko_range", re.compile(r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일?\s*[~\-–]\s*(?:(?P<m2>\d{1,2})\s*월\s*)?(?P<d2>\d{1,2})\s*일")),
    ("ko_day", re.compile(r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일")),
    ("ko_month", re.compile(r"(?P<y>\d{4})\s*년\s*(?P<m>\d{1,2})\s*월")),
    ("ko_range_noyear", re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*월\s*(?P<d>\d{1,2})\s*일?\s*[~\-–]\s*(?P<d2>\d{1,2})\s*일")),
    ("range", re.compile(r"\b" + _MON.format(g="mon") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?" + _DASH
                         + r"(?:" + _MON.format(g="mon2") + r"\s+)?(?P<d2>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?(?!\d)", re.I)),
    ("day", re.compile(r"\b" + _MON.format(g="mon") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?(?![\d:])", re.I)),
    ("day", re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MON.format(g="mon") + r",?\s+(?P<y>\d{4})\b", re.I)),
    ("month", re.compile(r"\b" + _MON.format(g="mon") + r",?\s+(?P<y>\d{4})\b", re.I)),
    ("iso_month", re.compile(r"(?<![\d-])(?P<y>\d{4})-(?P<m>\d{2})(?![\d-])")),
]
LANGS = ("en", "ko")
PLAN_WORD = re.compile(r"\s*(?:/|,|and|or|members?|plans?|subscri\w*|users?|tier|annual|monthly|yearly)", re.I)
# A clause without a model name that points back at the model named before it.
PRONOUN = re.compile(r"\b(?:it|its|it's|they|them|both|this|that|these|those|either|neither)\b|이 모델|그 모델|둘 다|둘 모두|이것|그것|해당 모델", re.I)
# Clause breaks inside a sentence: "..., so it uses credits for you", "..., and members can use it"; Korean "...이므로 ...", "...지만 ...".
CLAUSE_BREAK = re.compile(r",?\s+(?:so|but|while|whereas|however|although|though)\s+(?=\w)|,\s+and\s+(?=(?:it|they|you|we|members|users|customers|everyone|anyone)\b)|(?<=므로)\s+|(?<=지만)\s+|(?<=니다만)\s+|(?<=인데)\s+", re.I)
PHRASES = Path(__file__).resolve().parents[2] / "knowledge" / "rules" / "phrases.yaml"


@dataclass(frozen=True)
class DateSpan:
    """A date as written: its first and last day, whether it named a month only, and whether it had a year."""

    start: date
    end: date
    text: str
    month_only: bool = False
    has_year: bool = True
    at: int = 0


def find_dates(text: str, default_year: int | None = None) -> list[DateSpan]:
    """Return every date and date range in text, in order (a year-less date borrows default_year)."""
    taken = [False] * len(text)
    out: list[DateSpan] = []
    for kind, rx in DATE_FORMS:
        for m in rx.finditer(text):
            if any(taken[m.start():m.end()]):
                continue
            span = _span(kind, m.groupdict(), m.group(0), default_year)
            if span is None:
                continue
            taken[m.start():m.end()] = [True] * (m.end() - m.start())
            out.append(replace(span, at=m.start()))
    return sorted(out, key=lambda s: s.at)


def _span(kind: str, g: dict[str, str | None], text: str, default_year: int | None) -> DateSpan | None:
    """Turn one date match into a span; None for an impossible date."""
    try:
        has_year = bool(g.get("y"))
        year = int(g["y"]) if g.get("y") else (default_year or 2000)
        month = MONTHS[g["mon"].lower()] if g.get("mon") else int(g.get("m") or 0)
        if kind in ("month", "ko_month", "iso_month"):
            return DateSpan(date(year, month, 1), date(year, month, monthrange(year, month)[1]), text, True, has_year)
        first = date(year, month, int(g["d"] or 1))
        if g.get("d2"):
            month2 = MONTHS[g["mon2"].lower()] if g.get("mon2") else int(g.get("m2") or month)
            return DateSpan(first, date(year, month2, int(g["d2"])), text, False, has_year)
        return DateSpan(first, first, text, False, has_year)
    except (ValueError, KeyError, TypeError):
        return None


class Phrasebook:
    """The phrases of one language, compiled."""

    def __init__(self, lang: str, data: dict[str, Any], file: str) -> None:
        self.lang = lang
        self.rx: dict[str, re.Pattern[str]] = {}
        self.basis: dict[str, re.Pattern[str]] = {}
        for name, patterns in data.items():
            if name in ("basis", "filler"):
                continue
            self.rx[name] = _compile(patterns, f"{file}: {lang}.{name}")
        for name, patterns in (data.get("basis") or {}).items():
            self.basis[name] = _compile(patterns, f"{file}: {lang}.basis.{name}")
        filler = data.get("filler") or []
        self.filler = re.compile(r"\b(?:" + "|".join(filler) + r")\b", re.I) if filler else None

    def find(self, name: str, text: str) -> list[re.Match[str]]:
        """Return the matches of one concept in text."""
        rx = self.rx.get(name)
        return list(rx.finditer(text)) if rx else []


def _compile(patterns: list[str], where: str) -> re.Pattern[str]:
    """Compile a list of patterns into one, longest alternatives first; a bad pattern names its entry."""
    for p in patterns:
        try:
            re.compile(p)
        except re.error as err:
            raise SourceError(f"bad pattern {p!r}: {err}", file=where) from None
    return re.compile("|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True)), re.I)


@lru_cache(maxsize=4)
def load_phrasebooks(path: Path = PHRASES) -> dict[str, Phrasebook]:
    """Load the phrases of every language."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SourceError(f"cannot read phrases ({err})", file=str(path)) from err
    return {lang: Phrasebook(lang, data.get(lang) or {}, str(path)) for lang in LANGS}


@dataclass(frozen=True)
class Claim:
    """What one clause says about one model: a verdict, and for whom (None: not said)."""

    model: str | None
    verdict: str  # unlimited | uses_credits
    variants: frozenset[str] | None = None
    quantifier: str = "some"  # some | all | default | only | exact | if (a condition: "to get the unlimited X, ...")
    plans: frozenset[str] | None = None
    billing: frozenset[str] | None = None
    window: DateSpan | None = None
    window_kind: str = ""  # from | to | between | unstated | none
    lasts: tuple[int, int] | None = None
    basis: str | None = None
    level: str | None = None
    text: str = ""
    line: int | None = None
    negated: bool = False
    explicit_model: bool = True

    def conditions(self) -> bool:
        """Return True when the claim names who it is about (plan, billing, signup window or duration)."""
        return bool(self.plans or self.billing or self.window_kind or self.lasts)


@dataclass
class ClauseFacts:
    """Everything found in one clause before claims are assembled."""

    models: list[tuple[str, frozenset[str] | None, int]] = field(default_factory=list)
    separate_from: str | None = None
    default_of: tuple[str, str] | None = None  # (agent, model): "X uses Y as its default video model"
    quoted: list[str] = field(default_factory=list)
    polarity: list[tuple[str, int, bool]] = field(default_factory=list)  # (verdict, position, negated)
    plans: set[str] = field(default_factory=set)
    billing: set[str] | None = None
    window: DateSpan | None = None
    window_kind: str = ""
    lasts: tuple[int, int] | None = None
    basis: str | None = None
    level: str | None = None
    quantifier: str = "some"
    hypothetical: bool = False
    unread: list[str] = field(default_factory=list)

    def conditions_stated(self) -> bool:
        """Return True when the clause names who (plans, billing, a signup window, a duration) or why (a basis)."""
        return bool(self.plans or self.billing or self.window_kind or self.lasts)


class Reader:
    """Read claims about models from text, with the catalog's names and the phrasebook of each language."""

    def __init__(self, catalog: Catalog, books: dict[str, Phrasebook] | None = None) -> None:
        self.catalog = catalog
        self.books = books or load_phrasebooks()
        names = {}
        for pid, spec in catalog.plan_spellings().items():
            for n in spec:
                names[n.casefold()] = pid
        self._plans = names
        self._plan_rx = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w])", re.I)

    # --- clause facts -------------------------------------------------------------------
    def facts(self, text: str, lang: str, default_year: int | None = None, subject: str | None = None) -> ClauseFacts:
        """Return the models, polarity and conditions found in one clause (`subject`: the model it is about)."""
        book = self.books[lang]
        out = ClauseFacts()
        rest = list(text)

        def blank(start: int, end: int) -> None:
            rest[start:end] = [" "] * (end - start)

        out.quoted = [q.strip() for q in re.findall(r"[\"“”]([^\"“”]{3,80})[\"“”]", text)]
        for q in re.finditer(r"[\"“”][^\"“”]{3,80}[\"“”]", text):
            # A phrase to type is not a statement about its words, but the model it asks for is the clause's topic.
            named = self.catalog.find_models_in_text(q.group(0), fuzzy=False)
            if named:
                out.models.append((named[0].model_id, None, q.start()))
            blank(q.start(), q.end())
        sep = book.find("separate_from", text)
        for m in self.catalog.find_models_in_text("".join(rest), fuzzy=False):
            if sep and m.start >= sep[0].end() and not text[sep[0].end():m.start].strip(" *"):
                out.separate_from = m.model_id  # "a separate model from Nanobanana base": not a claim about it
                blank(sep[0].start(), sep[0].end())
                blank(m.start, m.end)
                continue
            variants = self._variants_after(text, m.end, m.model_id) if m.variant is None else frozenset({m.variant})
            paren = text.find("(", m.start, m.end)
            if m.variant is not None and paren >= 0:
                # "Nanobanana Pro (1K, 2K)": the name's match stops at the first variant; read the whole list.
                variants = self._variants_after(text, paren, m.model_id) or variants
                close = text.find(")", paren)
                if close > 0:
                    blank(paren, close + 1)
            out.models.append((m.model_id, variants, m.start))
            blank(m.start, m.end)
        joined = "".join(rest)
        for mid in {m for m, _, _ in out.models} | ({subject} if subject else set()):
            for vid, v in self.catalog.models[mid].variants.items():
                for name in {vid, v.name, *v.aliases}:
                    for vm in re.finditer(rf"(?<![\w]){re.escape(name)}(?![\w])", joined, re.I):
                        blank(vm.start(), vm.end())
        joined = "".join(rest)
        default = book.find("default_model", joined)
        if default and len(out.models) >= 2:
            ordered = list(dict.fromkeys(m[0] for m in sorted(out.models, key=lambda m: m[2])))
            out.default_of = (ordered[0], ordered[1]) if len(ordered) >= 2 else None
            # "Agent 2.0 uses Seedance 2.0 as its default": a fact about the agent, not a claim about either model.
            out.models = [m for m in out.models if m[0] not in (out.default_of or ())]
            blank(default[0].start(), default[0].end())
            joined = "".join(rest)
        for name, rx in book.basis.items():
            hit = rx.search(joined)
            if hit:
                out.basis = name
                out.level = hit.groupdict().get("level")
                blank(hit.start(), hit.end())
                joined = "".join(rest)
                break
        dates = find_dates(joined, default_year)
        for kind in ("dates_not_given", "no_window", "window_between", "window_from", "window_to"):
            for m in book.find(kind, joined):
                if kind in ("dates_not_given", "no_window"):
                    out.window_kind = {"dates_not_given": "unstated", "no_window": "none"}[kind]
                    blank(m.start(), m.end())
                    continue
                after = next((d for d in dates if d.at >= m.end() - 1), None)
                if after is None or out.window:
                    continue
                out.window, out.window_kind = after, kind.removeprefix("window_")
                if out.window_kind == "between" and after.start == after.end and not after.month_only:
                    out.window_kind = "from"
                blank(m.start(), m.end())
        if out.window is None and dates and out.window_kind not in ("unstated", "none"):
            # "Members who joined between Nov 21–30" reads the range; a lone date after 'joined' is a start.
            d = dates[0]
            out.window, out.window_kind = d, ("between" if d.start != d.end and not d.month_only else "from")
        for d in dates:
            blank(d.at, d.at + len(d.text))
        joined = "".join(rest)
        for kind, value in (("billing_both", {"monthly", "annual"}), ("billing_annual", {"annual"}), ("billing_monthly", {"monthly"})):
            for m in book.find(kind, joined):
                out.billing = (out.billing or set()) | value
                blank(m.start(), m.end())
            joined = "".join(rest)
        for m in self._plan_rx.finditer(joined):
            word = m.group(1)
            # "a premium product", "pro tips": a plan name in lower case is a plan only next to a plan word.
            if word.islower() and word.isascii() and not PLAN_WORD.match(joined[m.end():m.end() + 24]):
                continue
            out.plans.add(self._plans[word.casefold()])
            blank(m.start(), m.end())
        joined = "".join(rest)
        for kind in ("lasts", "lasts_months"):
            for m in book.find(kind, joined):
                n = int(m.group("n"))
                years, months = out.lasts or (0, 0)
                out.lasts = (years + n, months) if kind == "lasts" else (years, months + n)
                blank(m.start(), m.end())
            joined = "".join(rest)
        spans = [(m, "unlimited") for m in book.find("unlimited", joined)] + [(m, "uses_credits") for m in book.find("credits", joined)]
        spans.sort(key=lambda p: (p[0].start(), -(p[0].end() - p[0].start())))
        last_end = -1
        for m, verdict in spans:
            if m.start() < last_end:
                continue
            last_end = m.end()
            negated = self._negated(joined, m.start(), m.end(), lang)
            out.polarity.append((verdict, m.start(), negated))
            blank(m.start(), m.end())
        joined = "".join(rest)
        for name in ("only", "all", "default"):
            hits = book.find(name, joined)
            if hits:
                out.quantifier = name
                for m in hits:
                    blank(m.start(), m.end())
                joined = "".join(rest)
                break
        for m in book.find("hypothetical", joined):
            out.hypothetical = True
            blank(m.start(), m.end())
        for m in book.find("negation", joined):
            blank(m.start(), m.end())
        joined = "".join(rest)
        if book.filler is not None:
            joined = book.filler.sub(" ", joined)
        out.unread = re.findall(r"[^\W\d_][\w'’]*", joined)
        return out

    def customer_claims(self, text: str, lang: str) -> list[Claim]:
        """Return what text tells the customer about models: claims with no condition and no 'only'."""
        return [c for c in self.claims(text, lang) if not c.conditions() and c.quantifier in ("some", "all")]

    def variants_named(self, text: str, models: list[tuple[str | None, frozenset[str] | None]]) -> bool:
        """Return True when text names a variant of one of the models ('2K and 4K')."""
        return any(m and self.variants_in(text, m) for m, _ in models)

    def variants_in(self, text: str, model_id: str) -> frozenset[str] | None:
        """Return the variants of a model named anywhere in text ('2K and 4K')."""
        spec = self.catalog.models[model_id]
        found = set()
        for vid, v in spec.variants.items():
            for name in {vid, v.name, *v.aliases}:
                if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, re.I):
                    found.add(vid)
        return frozenset(found) or None

    def _variants_after(self, text: str, end: int, model_id: str) -> frozenset[str] | None:
        """Return variants named right after a model, e.g. '(1K, 2K)' or ' 4K'."""
        variants = self.catalog.models[model_id].variants
        if not variants:
            return None
        m = re.match(r"\**\s*(?:\(([^()]*)\)|((?:\s*(?:\d+K|Low|Medium|High)\b[, ]*(?:and )?)+))", text[end:], re.I)
        if not m:
            return None
        found = set()
        for word in re.findall(r"[\w]+", m.group(1) or m.group(2) or ""):
            try:
                found.add(self.catalog.resolve_variant(model_id, word))
            except Exception:  # a word that is not a variant ("LTX model") is part of the name
                continue
        return frozenset(found) or None

    def _negated(self, text: str, start: int, end: int, lang: str) -> bool:
        """Return True when a negation governs the phrase at start..end."""
        book = self.books[lang]
        if lang == "ko":
            window = re.split(r"[,.;:!?]|(?:므로|지만|면서|는데)\s", text[end:end + 14])[0]
            return bool(book.find("negation", window))
        before = text[max(0, start - 40):start]
        clause = re.split(r"[,;:]|\b(?:but|however|while|although)\b", before)[-1]
        return bool(book.find("negation", clause)) and not re.search(r"\bunless\b", clause, re.I)

    # --- claims -------------------------------------------------------------------------
    def claims(self, text: str, lang: str, *, subject: str | None = None, default_year: int | None = None,
               line: int | None = None) -> list[Claim]:
        """Return the claims each clause of text makes; `subject` stands in for a clause that names no model."""
        out: list[Claim] = []
        last_models: list[tuple[str, frozenset[str] | None]] = [(subject, None)] if subject else []
        for clause in split_clauses(text):
            f = self.facts(clause, lang, default_year)
            models = [(m, v) for m, v, _ in f.models]
            explicit = bool(models)
            if not models and (subject or PRONOUN.search(clause) or self.variants_named(clause, last_models)):
                # "2K and 4K still deduct", "It is unlimited": the model named before, with variants named here.
                models = [(m, self.variants_in(clause, m) or v) for m, v in last_models if m]
            if not f.polarity or not models:
                if explicit:
                    last_models = models
                continue
            for mid, variants in models:
                verdict, negated = self._polarity_for(f, clause, mid, [x for x in f.models if x[0] == mid])
                quantifier = f.quantifier
                if f.basis:
                    # "Not eligible", "paid for all members", "advanced model, deducts many credits": never free.
                    verdict, quantifier = "uses_credits", "all"
                elif f.hypothetical:
                    quantifier = "if"
                if negated and re.search(r"\bunless\b", clause, re.I):
                    # "Not unlimited unless you joined Nov 21–30": unlimited exactly for that window.
                    verdict, quantifier = "unlimited", "only"
                out.append(Claim(mid, verdict, variants, quantifier, frozenset(f.plans) or None,
                                 frozenset(f.billing) if f.billing else None, f.window, f.window_kind, f.lasts,
                                 f.basis, f.level, clause.strip(), line, negated, explicit))
            last_models = models
        return out

    @staticmethod
    def _polarity_for(f: ClauseFacts, clause: str, model_id: str, where: list[tuple[str, frozenset[str] | None, int]]) -> tuple[str, bool]:
        """Return the verdict a clause gives one model: the polarity phrase nearest to its name."""
        at = where[0][2] if where else 0
        verdict, pos, negated = min(f.polarity, key=lambda p: abs(p[1] - at))
        if negated:
            verdict = "uses_credits" if verdict == "unlimited" else "unlimited"
        return verdict, negated


def split_clauses(text: str) -> list[str]:
    """Split text into sentences and clauses (';', a sentence's end, a '(Label: ...)' aside), markdown removed."""
    plain = strip_markdown(text).replace("\\[", "[").replace("\\]", "]")
    asides: list[str] = []

    def aside(m: re.Match[str]) -> str:
        asides.append(m.group(1))
        return " "

    # "(Max annual: signups on or after May 22, 2026; 2K and 4K still deduct)" says things of its own.
    plain = re.sub(r"\(([^()]*[:;][^()]*)\)", aside, plain)
    parts: list[str] = []
    for chunk in [plain, *asides]:
        for sentence in re.split(r"(?<=[.!?。])\s+|;\s*|\n+", chunk):
            parts += CLAUSE_BREAK.split(sentence)
    return [p for p in parts if p and p.strip(" .-*")]
