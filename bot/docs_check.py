"""Where the help pages disagree with each other: eligibility, dates, phrases to type, default models, credit costs.

`python -m bot check-docs` reads every page in both languages (pure Python: the page parser, the catalog and the
claim reader) and lists statements that contradict each other, each with both pages, lines and texts.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.eligibility.engine import Engine
from bot.eligibility.reading import Reader, split_clauses
from bot.mdx import Page, strip_markdown

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?|초)\b", re.I)
CREDITS_HEADER = re.compile(r"credit|크레딧", re.I)
CREDIT_AMOUNT = re.compile(r"(?<![\w.])(\d[\d,]*)\s*(?:credits?|크레딧)", re.I)
BARE_NUMBER = re.compile(r"^\s*\**(\d[\d,]*)\**\s*$")
REQUEST = re.compile(r"(?:request|ask for|type|say|enter|입력|요청)", re.I)
RANGE = re.compile(r"\d+\s*(?:to|-|–|~)\s*\d+")
QUOTED = re.compile(r"[\"“]([^\"”]{3,80})[\"”]")


@dataclass(frozen=True)
class Said:
    """One thing a page says, where."""

    page: str
    file: str
    line: int
    text: str
    value: str


@dataclass(frozen=True)
class Contradiction:
    """Pages that state the same fact differently."""

    kind: str  # eligibility | phrase | default_model | credit_cost | twin
    what: str
    said: tuple[Said, ...]

    def groups(self) -> list[tuple[str, list[Said]]]:
        """Return what each version says and where, the rarest version first (the odd page out leads)."""
        by_value: dict[str, list[Said]] = defaultdict(list)
        for s in self.said:
            by_value[s.value].append(s)
        return sorted(by_value.items(), key=lambda kv: (len(kv[1]), kv[0]))

    def lines(self) -> list[str]:
        """Return the contradiction as lines a writer reads."""
        out = [f"{self.what}:"]
        for value, items in self.groups():
            where = ", ".join(f"{s.file}:{s.line}" for s in items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
            out.append(f"  {value}: {where}")
            out.append(f"      \u201c{items[0].text[:110]}\u201d")
        return out

    def minority(self, preferred_page: str | None = None) -> list[Said]:
        """Return the statements that disagree with the page the rules cite (or, without it, with most pages)."""
        groups = self.groups()
        keep = next((v for v, items in groups if any(s.page == preferred_page for s in items)), groups[-1][0])
        return [s for v, items in groups if v != keep for s in items]


@dataclass
class DocsReport:
    """Every contradiction between pages, and pages missing or behind their twin."""

    pages: int = 0
    contradictions: list[Contradiction] = field(default_factory=list)
    twins: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when no page contradicts another."""
        return not self.contradictions

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {"ok": self.ok, "pages": self.pages, "contradictions": [asdict(c) for c in self.contradictions],
                "twins": self.twins}

    def text(self) -> str:
        """Return the report for a writer."""
        out: list[str] = []
        for c in self.contradictions:
            out += c.lines() + [""]
        if self.twins:
            out += ["Pages and their twins:"] + [f"  {t}" for t in self.twins] + [""]
        status = "OK" if self.ok else f"{len(self.contradictions)} contradiction(s)"
        out.append(f"check-docs {status} across {self.pages} page(s); {len(self.twins)} twin note(s)")
        return "\n".join(out)


PageFacts = list[tuple[tuple[str, ...], "Said"]]


def check_docs(engine: Engine, pages: list[Page], known: MutableMapping[str, PageFacts] | None = None) -> DocsReport:
    """Return where the pages contradict each other (English and Korean pages are each compared within their language).

    known holds the facts of pages read before (by page id, for pages unchanged since); the facts of the other
    pages are read and added to it, so a caller can keep them for the next run.
    """
    from bot.eligibility.check import twin_warnings

    reader = engine.reader()
    report = DocsReport(pages=len(pages))
    facts: dict[tuple[str, ...], list[Said]] = defaultdict(list)
    known = {} if known is None else known
    for page in pages:
        if page.id not in known:
            known[page.id] = _page_facts(page, engine, reader)
        for said_key, said in known[page.id]:
            facts[said_key].append(said)
    for key, items in sorted(facts.items()):
        values = {s.value for s in items}
        if len(values) > 1:
            kind, what = key[0], key[-1]
            report.contradictions.append(Contradiction(kind, what, tuple(sorted(items, key=lambda s: (s.value, s.page)))))
    report.twins = [str(w) for w in twin_warnings(pages, engine)]
    return report


def _page_facts(page: Page, engine: Engine, reader: Reader) -> list[tuple[tuple[str, ...], Said]]:
    """Return the comparable facts one page states: (kind, subject..., what) -> what it says."""
    out: list[tuple[tuple[str, ...], Said]] = []
    lang = page.lang
    file = str(page.file)
    for section in page.sections:
        for block in section.blocks:
            if block.table is not None:
                out += _table_facts(page, block.table, engine, reader)
                continue
            for clause in split_clauses(block.text):
                facts = reader.facts(clause, lang)
                if facts.default_of:
                    agent, model = facts.default_of
                    out.append((("default_model", lang, agent, f"the default video model of {engine.display(agent)}"),
                                Said(page.id, file, block.line, clause, engine.display(model))))
                if facts.quoted and REQUEST.search(clause):
                    for q in facts.quoted:
                        named = engine.catalog.find_models_in_text(q, fuzzy=False)
                        if named:
                            mid = named[0].model_id
                            out.append((("phrase", mid, f"what to type to get {engine.display(mid)}"),
                                        Said(page.id, file, block.line, clause, f"\u201c{q}\u201d")))
                mentions = engine.catalog.find_models_in_text(clause, fuzzy=False)
                amounts = list(CREDIT_AMOUNT.finditer(clause))
                # "Sora 2 costs 150 credits": the amount right after the one model named (not a range, not another thing's cost).
                if len({m.model_id for m in mentions}) == 1 and len(amounts) == 1 \
                        and 0 <= amounts[0].start() - mentions[0].end <= 40 and not RANGE.search(clause):
                    mid = mentions[0].model_id
                    duration = DURATION.search(clause)
                    key = ("credit_cost", mid, duration.group(1) if duration else "", _cost_what(engine, mid, duration))
                    out.append((key, Said(page.id, file, block.line, clause, f"{amounts[0].group(1)} credits")))
            for c in reader.claims(block.text, lang):
                if c.model and c.window is not None and c.window.has_year and c.verdict == "unlimited" and c.window_kind in ("from", "between"):
                    who = ",".join(sorted(c.plans or ())) + "|" + ",".join(sorted(c.variants or ()))
                    span = f"{c.window.start}..{c.window.end}" if c.window_kind == "between" else f"from {c.window.start}"
                    out.append((("eligibility", c.model, who, f"who gets {engine.display(c.model)} unlimited ({who.strip('|') or 'any plan'})"),
                                Said(page.id, file, block.line, c.text, span)))
    return out


def _table_facts(page: Page, table: Any, engine: Engine, reader: Reader) -> list[tuple[tuple[str, ...], Said]]:
    """Return credit costs and eligibility windows a table states, row by row."""
    out: list[tuple[tuple[str, ...], Said]] = []
    cost_cols = [i for i, h in enumerate(table.header) if CREDITS_HEADER.search(h)]
    for row, line in zip(table.rows, table.row_lines):
        if not row:
            continue
        head = reader.facts(strip_markdown(row[0]), page.lang)
        if not head.models:
            continue
        mid, variants, _ = head.models[0]
        text = " | ".join(row)
        variants = variants or reader.variants_in(text, mid)
        variant = ",".join(sorted(variants or ()))
        duration = next((d for cell in row for d in [DURATION.search(cell)] if d), None)
        # What else the row says ("per message", "with audio") tells rows of one model apart.
        rest = " ".join(strip_markdown(c).lower() for n, c in enumerate(row) if n and n not in cost_cols)
        qualifier = duration.group(1) if duration else re.sub(r"\W+", " ", rest).strip()
        for i in cost_cols:
            if i < len(row) and (m := BARE_NUMBER.match(row[i]) or CREDIT_AMOUNT.search(row[i])):
                key = ("credit_cost", mid + (f" {variant}" if variant else ""), qualifier,
                       _cost_what(engine, mid, duration, variants and next(iter(variants)) if len(variants or ()) == 1 else ""))
                out.append((key, Said(page.id, str(page.file), line, text, f"{m.group(1)} credits")))
        for cell in row[1:]:
            facts = reader.facts(cell, page.lang)
            if facts.window is not None and facts.window.has_year and facts.window_kind in ("from", "between") and not facts.basis:
                who = ",".join(sorted(facts.plans)) + "|" + variant
                span = f"{facts.window.start}..{facts.window.end}" if facts.window_kind == "between" else f"from {facts.window.start}"
                out.append((("eligibility", mid, who, f"who gets {engine.display(mid)} unlimited ({who.strip('|') or 'any plan'})"),
                            Said(page.id, str(page.file), line, text, span)))
    return out


def _cost_what(engine: Engine, mid: str, duration: re.Match[str] | None, variant: str = "") -> str:
    name = engine.display(mid, variant or None)
    return f"the credits for one {duration.group(1)} s {name} clip" if duration else f"the credits for {name}"


def run(rules: Path, pages_dir: Path, base_url: str) -> DocsReport:
    """Load the rules and every page, and check the pages against each other."""
    from bot.mdx import load_pages

    return check_docs(Engine.from_file(rules), load_pages(pages_dir, base_url))
