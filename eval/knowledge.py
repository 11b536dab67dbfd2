"""What the eval checks answers against: the parsed help-center pages and the rules engine."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT, Settings
from eval.numbers import find_dates, link_keys

TEMPLATES_DIR = ROOT / "prompts" / "offline"
# Per-rule and per-section translations state facts; only the fixed wording around them is "approved text".
FACT_MAPS = ("reasons", "sections", "notes")
BIG_CHUNK = 2000  # tokens: one chunk per prose run, so a section's text reads as on the page


@dataclass
class Knowledge:
    """Sections by id with their text, and the rules engine (loaded lazily)."""

    settings: Settings
    sections: dict[str, str] = field(default_factory=dict)  # section id -> breadcrumb
    texts: dict[str, str] = field(default_factory=dict)  # section id -> plain text
    urls: dict[str, str] = field(default_factory=dict)  # section url -> section id
    page_files: dict[str, Path] = field(default_factory=dict)  # page id -> file
    fixed_text: str = ""  # wording of the answer templates (examples, handoff text), dates blanked out
    known_links: set[str] = field(default_factory=set)  # links the pages, rules and templates use
    twin_of: dict[str, str] = field(default_factory=dict)  # other-language section id -> English section id
    _engine: Any = None
    _masked: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        """Return the eligibility engine for the configured rules file."""
        if self._engine is None:
            from bot.eligibility import Engine

            self._engine = Engine.from_file(self.settings.rules_file)
        return self._engine

    def resolve_section(self, ref: str) -> list[str]:
        """Return the section ids a case's reference names: a full id, or an anchor on any page."""
        ref = ref.strip().lstrip("#")
        if "#" in ref or ref in self.page_files:
            found = [ref] if ref in self.sections else []
        else:
            found = [sid for sid in self.sections if sid.endswith("#" + ref)]
        # The same section on a page's twin in another language answers the same question.
        return found + [other for other, base in self.twin_of.items() if base in found]

    def section_for_source(self, source: dict[str, Any]) -> str | None:
        """Return the section id a cited source points at, by id or by URL."""
        sid = source.get("section_id") or ""
        if sid:
            return sid if sid in self.sections else None
        return self.urls.get(str(source.get("url", "")).rstrip("/"))

    def model_sections(self, model: str) -> set[str]:
        """Return the section ids the rules of one model cite."""
        book = self.engine.book
        mid, _ = self.engine.resolve_model(model)
        rules = [r for r in book.spec.rules if r.model == mid]
        anchors = {r.section for r in rules}
        listed = {p for r in rules if r.when and r.when.plans for p in r.when.plans}
        for pid, plan in book.spec.plans.items():
            # A plan-wide date gate (Max annual) reaches every rule listing the plan or the plan it copies.
            if plan.annual_rule and (pid in listed or plan.same_as in listed):
                anchors.add(plan.annual_rule.section)
        page = book.spec.source.page
        return {f"{page}#{a}" for a in anchors}

    def claims(self, text: str, lang: str, variant: str | None = None) -> list[tuple[str, str]]:
        """Return (model id, verdict) for what text tells the customer about a model (agents left out).

        A claim about other variants ("Nanobanana Pro 4K is paid for all members") says nothing of `variant`.
        """
        models = self.engine.book.spec.models
        return [(c.model, c.verdict) for c in self.engine.reader().customer_claims(text, lang)
                if c.model and models[c.model].kind != "agent" and (c.variants is None or variant in c.variants)]

    def mask_models(self, text: str) -> str:
        """Return text with model names (and their variants) blanked, so 'Agent 2.0' states no number."""
        cached = self._masked.get(text)
        if cached is not None:
            return cached
        chars = list(text)
        for m in self.engine.catalog.find_models_in_text(text, fuzzy=False):
            chars[m.start:m.end] = [" "] * (m.end - m.start)
        masked = re.sub(r"(?<![\w.])\d+\s?K\b", " ", "".join(chars))
        if len(self._masked) < 4096:
            self._masked[text] = masked
        return masked

    def rules_page(self) -> str:
        """Return the id of the page the rules come from."""
        return str(self.engine.book.spec.source.page)


def knowledge_problems(settings: Settings) -> list[dict[str, Any]]:
    """Return where the help pages and the rules disagree (check-rules), each in words a writer can act on."""
    from bot.eligibility.check import check_rules

    report = check_rules(settings.rules_file, settings.pages_path, settings.docs_base_url)
    return [{"file": p.file, "line": p.line, "rule_file": p.rule_file, "rule_line": p.rule_line, "kind": p.kind,
             "message": p.message} for p in report.problems]


def knowledge_lines(problems: list[dict[str, Any]]) -> list[str]:
    """Return check-rules problems as lines: where on the page, where in the rules, what disagrees."""
    out = []
    for p in problems:
        where = f"{p['file']}:{p['line']}" if p.get("line") else p["file"]
        rules = f" (rules: {p['rule_file']}:{p['rule_line']})" if p.get("rule_file") and p.get("rule_line") else ""
        out.append(f"{where}: {p['message']}{rules}")
    return out


def load_knowledge(settings: Settings) -> Knowledge:
    """Parse the configured pages into section ids, texts and URLs."""
    from bot.ingest import chunk_section
    from bot.mdx import load_pages

    from bot.twins import section_map

    k = Knowledge(settings)
    pages = load_pages(settings.pages_path, settings.docs_base_url)
    k.twin_of = section_map(pages)
    for page in pages:
        k.page_files[page.id] = page.file
        for section in page.sections:
            chunks = chunk_section(page, section, BIG_CHUNK)
            k.sections[section.id] = section.breadcrumb or page.title
            k.texts[section.id] = "\n".join([section.breadcrumb, *(c.text for c in chunks)])
            k.urls[section.url.rstrip("/")] = section.id
    fixed = template_text(TEMPLATES_DIR)
    k.fixed_text = find_dates(fixed)[1]  # a date is a fact: it must come from the pages or the rules
    raw = [*k.texts.values(), *k.urls, fixed]
    if settings.rules_file.is_file():
        raw.append(settings.rules_file.read_text(encoding="utf-8"))
    k.known_links = link_keys("\n".join(raw))
    return k


def template_text(folder: Path) -> str:
    """Return every fixed string of the answer templates, leaving out the per-rule and per-section maps."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str):
            out.append(node)

    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        walk({k: v for k, v in data.items() if k not in FACT_MAPS} if isinstance(data, dict) else data)
    return "\n".join(out)
