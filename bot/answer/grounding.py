"""Check a model's answer before a customer sees it: every claim about a model against this turn's verdicts,
every date, quantity, number and link against the retrieved text and the tool results (pure)."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.eligibility import Engine, Verdict
from bot.eligibility.entail import verdicts
from bot.numbers import unsupported

CITATION = re.compile(r"\[(\d{1,2})\]")
URL = re.compile(r"https?://[^\s)\]>\"']+")


@dataclass(frozen=True)
class Problem:
    """One reason the answer cannot be shown as the model wrote it."""

    kind: str
    detail: str


class Grounding:
    """What one turn may say: its verdicts, its evidence text, its links and how many sections it cited from."""

    def __init__(self, engine: Engine, *, verdicts: list[Verdict], evidence: str, urls: set[str], sections: int,
                 lang: str, mask: Callable[[str], str] | None = None) -> None:
        self.engine = engine
        self.verdicts = verdicts
        self.evidence = evidence
        self.urls = {u.rstrip("/.,") for u in urls}
        self.sections = sections
        self.lang = lang
        self.mask = mask or self._mask

    def _mask(self, text: str) -> str:
        """Blank model names (and variants), so 'Agent 2.0' or 'Sora 2' state no number."""
        chars = list(text)
        for m in self.engine.catalog.find_models_in_text(text, fuzzy=False):
            chars[m.start:m.end] = [" "] * (m.end - m.start)
        return re.sub(r"(?<![\w.])\d+\s?K\b", " ", "".join(chars))

    def check(self, text: str) -> list[Problem]:
        """Return every problem of a text (a sentence or the whole answer)."""
        return self.claims(text) + self.figures(text)

    def claims(self, text: str) -> list[Problem]:
        """Return claims about a model that no verdict of this turn supports (free, unlimited, no charge, costs ...)."""
        problems: list[Problem] = []
        models = self.engine.book.spec.models
        for c in self.engine.reader().claims(text, self.lang):
            if not c.model or models[c.model].kind == "agent":
                continue
            if c.quantifier in ("default", "if"):
                continue  # "uses credits by default", "to get the unlimited X, ask for ...": no verdict for the customer
            if c.conditions() or c.quantifier == "only":
                # A statement about who gets a model: some customer it names must get that verdict from the rules.
                if c.verdict not in set(verdicts(self.engine, c)):
                    problems.append(Problem("contradicts_rules", f"says {self.engine.display(c.model)} {_said(c.verdict)} "
                                                                 f"for people the rules do not: {c.text[:120]}"))
                continue
            checked = [v for v in self.verdicts if v.model.id == c.model
                       and (c.variants is None or v.variant is None or v.variant in c.variants)]
            name = self.engine.display(c.model)
            if not checked:
                problems.append(Problem("unchecked_claim", f"says {name} {_said(c.verdict)} without a check: {c.text[:120]}"))
                continue
            if all(v.verdict != c.verdict for v in checked):
                truth = ", ".join(sorted({v.verdict for v in checked}))
                problems.append(Problem("contradicts_tool", f"says {name} {_said(c.verdict)}; the check says {truth}: {c.text[:120]}"))
        return problems

    def figures(self, text: str) -> list[Problem]:
        """Return dates, quantities ('2 credits'), numbers and links that no retrieved text or tool result states."""
        problems: list[Problem] = []
        body = CITATION.sub(" ", text)
        for item in unsupported(body, self.evidence, frozenset(), self.mask):
            if item.startswith("http") or "/" in item and "." in item:
                continue  # links are checked below, against the pages retrieved
            problems.append(Problem("unknown_figure", f"{item!r} is in neither the tool result nor the sources"))
        for url in URL.findall(text):
            if url.rstrip("/.,") not in self.urls:
                problems.append(Problem("unknown_link", f"link {url} was not retrieved"))
        for n in CITATION.findall(text):
            if not 1 <= int(n) <= self.sections:
                problems.append(Problem("bad_citation", f"[{n}] cites no retrieved section"))
        return problems


def _said(verdict: str) -> str:
    return "is free/unlimited" if verdict == "unlimited" else "uses credits"


def check_answer(text: str, *, verdicts: list[Verdict], evidence: str, urls: set[str], sections: int,
                 engine: Engine, lang: str = "en") -> list[Problem]:
    """Return every grounding problem of a whole answer."""
    return Grounding(engine, verdicts=verdicts, evidence=evidence, urls=urls, sections=sections, lang=lang).check(text)
