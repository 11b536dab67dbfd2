"""Check the rules against the help page, both ways: what the page says and what the rules say must agree."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.errors import SourceError
from bot.eligibility.catalog import compact
from bot.eligibility.engine import Engine
from bot.eligibility.entail import verdicts
from bot.eligibility.reading import Claim, ClauseFacts, split_clauses
from bot.eligibility.rules import RuleBook, load_rules
from bot.eligibility.schema import RuleSpec
from bot.eligibility.verdict import Explanation
from bot.mdx import Page, Section, strip_markdown

_PARENS = re.compile(r"\([^()]*\)")
_TOKEN = re.compile(r"[^\W_]+", re.U)
FIX = "Fix the page or the rules so they say the same."


@dataclass(frozen=True)
class Problem:
    """One disagreement or unreadable statement, located in the page and, where there is one, in the rules."""

    file: str
    line: int | None
    message: str
    rule_file: str | None = None
    rule_line: int | None = None
    kind: str = "disagree"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        also = f" (rules: {self.rule_file}:{self.rule_line})" if self.rule_file and self.rule_line else ""
        return f"{where}: {self.message}{also}"


@dataclass
class CheckReport:
    """What was checked and what is wrong."""

    rules_file: str
    page: str | None = None
    rows: int = 0
    rules: int = 0
    statements: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of the report."""
        return {
            "ok": self.ok,
            "rules_file": self.rules_file,
            "page": self.page,
            "rows_checked": self.rows,
            "statements_checked": self.statements,
            "rules": self.rules,
            "problems": [asdict(p) for p in self.problems],
            "warnings": [asdict(p) for p in self.warnings],
        }


@dataclass(frozen=True)
class Statement:
    """One thing the page says about a model or a plan, and where."""

    claim: Claim | None
    facts: ClauseFacts
    line: int
    text: str
    exact: bool  # a row of an eligibility table: it states the rule itself
    subject: str | None = None


def check_rules(rules_path: Path, pages_dir: Path, base_url: str) -> CheckReport:
    """Load pages and rules together and report every disagreement between them."""
    from bot.mdx import load_pages  # the page parser is only needed for this check

    report = CheckReport(str(rules_path))
    try:
        pages = load_pages(pages_dir, base_url)
        book = load_rules(rules_path, pages)
        engine = Engine(book)
    except SourceError as err:
        report.problems.append(Problem(str(err.details.get("file")), err.details.get("line"), _bare(err), kind="source"))
        return report
    page = next(p for p in pages if p.id == book.spec.source.page)
    report.page, report.rules = page.id, len(book.spec.rules)
    _check_source(book, page, report)
    checker = _Checker(engine, page, report)
    checker.run()
    report.warnings += twin_warnings(pages, engine)
    return report


def _bare(err: SourceError) -> str:
    """Return the message of a SourceError without its 'file:line: ' prefix."""
    file, line = err.details.get("file"), err.details.get("line")
    prefix = f"{file}:{line}: " if line else f"{file}: "
    return err.message.removeprefix(prefix)


def _check_source(book: RuleBook, page: Page, report: CheckReport) -> None:
    """Check the page title, URL and section titles the rules file repeats."""
    spec, line = book.spec.source, book.index.line
    file = str(book.file)
    if spec.title != page.title:
        report.problems.append(Problem(file, line(("source", "title")), f"source.title {spec.title!r} differs from the page title {page.title!r}", kind="source"))
    if spec.url.rstrip("/") != page.url.rstrip("/"):
        report.problems.append(Problem(file, line(("source", "url")), f"source.url {spec.url!r} differs from the page URL {page.url!r}", kind="source"))
    for anchor, title in spec.sections.items():
        section = page.section(anchor)
        actual = " › ".join(section.path) if section else ""
        if title != actual:
            report.problems.append(Problem(file, line(("source", "sections", anchor)), f"section #{anchor} is titled {actual!r} on the page, not {title!r}", kind="source"))


class _Checker:
    """Read the page's statements and hold each against the rules; then look for rules the page never states."""

    def __init__(self, engine: Engine, page: Page, report: CheckReport) -> None:
        self.engine = engine
        self.book = engine.book
        self.spec = engine.book.spec
        self.page = page
        self.report = report
        self.reader = engine.reader()
        self.words = engine.wording("en")
        self.supported: set[str] = set()  # rule ids (and plan:/model: facts) the page states
        self.disputed: set[str] = set()  # rule ids already reported as disagreeing with a statement
        self.rule_pos = {r.id: n for n, r in enumerate(self.spec.rules)}
        self.page_text = "\n".join(b.text for s in page.sections for b in s.blocks) + "\n" + "\n".join(
            " ".join(c for row in t.rows_md for c in row) for s in page.sections for t in s.tables)

    # --- reading the page ---------------------------------------------------------------
    def statements(self) -> Iterator[Statement]:
        """Yield every statement of the page: table rows first, then callouts and FAQ answers."""
        columns = self.reader.books["en"].rx.get("eligibility_columns")
        acknowledged = {(compact(r.text), r.section) for r in self.spec.acknowledged_rows}
        used_ack: set[tuple[str, str]] = set()
        for section in self.page.sections:
            polarity = self._section_polarity(section)
            for table in section.tables:
                strict_cols = [i for i, h in enumerate(table.header) if i > 0 and columns and columns.fullmatch(h.strip())]
                for row, row_md, line in zip(table.rows, table.rows_md or table.rows, table.row_lines):
                    self.report.rows += 1
                    cell = row[0] if row else ""
                    if (compact(cell), section.anchor) in acknowledged:
                        used_ack.add((compact(cell), section.anchor))
                        continue
                    models = self._row_models(cell, section, line)
                    if not models:
                        continue
                    for i, text in enumerate(row[1:], start=1):
                        yield from self._cell(models, row_md[i] if i < len(row_md) else text, line, section, polarity,
                                              strict=i in strict_cols)
            for block in section.blocks:
                if block.kind in ("callout", "text", "list", "quote") and block.table is None:
                    for clause in split_clauses(block.text):
                        yield from self._prose(clause, block.line)
        for n, row in enumerate(self.spec.acknowledged_rows):
            if (compact(row.text), row.section) not in used_ack:
                self.report.problems.append(Problem(str(self.book.file), self.book.index.line(("acknowledged_rows", n)),
                                                    f"acknowledged row {row.text!r} is no longer in section #{row.section}", kind="missing_row"))

    def _section_polarity(self, section: Section) -> str | None:
        """Return what a section's top heading says of its models ('covered' -> unlimited, 'NOT covered' -> credits)."""
        head = section.path[0] if section.path else ""
        facts = self.reader.facts(head, "en")
        if not facts.polarity:
            return None
        verdict, _, negated = facts.polarity[0]
        return ("uses_credits" if verdict == "unlimited" else "unlimited") if negated else verdict

    def _row_models(self, cell: str, section: Section, line: int) -> list[tuple[str, frozenset[str] | None]]:
        """Return the models a table row is about; a name the catalog does not know is a problem."""
        text = strip_markdown(cell).replace("\\[", "[").replace("\\]", "]")
        found = self.engine.catalog.find_models_in_text(_PARENS.sub(" ", text), fuzzy=False)
        if not found:
            self.report.problems.append(Problem(str(self.page.file), line,
                                                f"table row {cell!r} in section #{section.anchor} names no model in {self.book.file.name}; "
                                                "add the model with its rules, or list the row under acknowledged_rows", kind="missing_rule"))
            return []
        covered = set()
        for m in found:
            covered.update(range(m.start, m.end))
        extra = [t.group() for t in _TOKEN.finditer(_PARENS.sub(" ", text)) if t.start() not in covered]
        if extra and not all(self.engine.catalog.find_models_in_text(t, fuzzy=False) for t in extra):
            names = ", ".join(sorted({self.engine.catalog.display(m.model_id, m.variant) for m in found}))
            self.report.problems.append(Problem(str(self.page.file), line,
                                                f"table row {cell!r} in section #{section.anchor}: {' '.join(extra)!r} is not part of a known model name "
                                                f"(matched: {names}); add the model with its rules", kind="missing_rule"))
            return []
        facts = self.reader.facts(text, "en")
        out: list[tuple[str, frozenset[str] | None]] = []
        for mid, variants, _ in facts.models:
            if (mid, variants) not in out:
                out.append((mid, variants))
        return out

    def _cell(self, models: list[tuple[str, frozenset[str] | None]], text: str, line: int, section: Section,
              polarity: str | None, *, strict: bool) -> Iterator[Statement]:
        """Yield what one table cell says about the row's models; in an eligibility column every word must be read."""
        for mid, variants in models:
            clauses = split_clauses(text)
            for clause in clauses:
                facts = self.reader.facts(clause, "en", subject=mid)
                if strict and facts.unread:
                    self.report.problems.append(Problem(str(self.page.file), line,
                                                        f"cannot read {' '.join(facts.unread)!r} in {strip_markdown(text)!r} (section #{section.anchor}); "
                                                        "write it the way knowledge/rules/phrases.yaml knows, or add the phrase there", kind="unread"))
                claims = self.reader.claims(clause, "en", subject=mid)
                claims = [c for c in claims if c.model == mid] or []
                if not claims and (facts.basis or (facts.conditions_stated() and polarity == "unlimited")):
                    # A cell of a 'covered' table states who gets the row's model: "Premium / Pro members who ...".
                    verdict = "uses_credits" if facts.basis else "unlimited"
                    claims = [Claim(mid, verdict, variants, "exact", frozenset(facts.plans) or None,
                                    frozenset(facts.billing) if facts.billing else None, facts.window, facts.window_kind,
                                    facts.lasts, facts.basis, facts.level, clause, line)]
                elif not claims and facts.plans and facts.window and not facts.models:
                    claims = []
                    yield Statement(None, facts, line, clause, False, subject=mid)
                for c in claims:
                    c = c if c.variants or not variants else Claim(**{**c.__dict__, "variants": variants})
                    exact = c.quantifier == "exact" or (polarity == "unlimited" and c.verdict == "unlimited" and strict)
                    yield Statement(c, facts, line, clause, exact, subject=mid)
                if facts.separate_from:
                    yield Statement(None, facts, line, clause, False, subject=mid)

    def _prose(self, clause: str, line: int) -> Iterator[Statement]:
        """Yield what one sentence of a callout or FAQ answer says (claims about agents are about chatting, not models)."""
        facts = self.reader.facts(clause, "en")
        claims = [c for c in self.reader.claims(clause, "en") if self.spec.models[c.model].kind != "agent"] if facts.models else []
        for c in claims:
            yield Statement(c, facts, line, clause, False)
        if not claims and (facts.default_of or (facts.plans and (facts.window or self._same_as(clause)))) or facts.quoted:
            yield Statement(None, facts, line, clause, False)

    def _same_as(self, clause: str) -> bool:
        return bool(self.reader.books["en"].find("same_as", clause))

    # --- holding statements against the rules --------------------------------------------
    def run(self) -> None:
        """Check every statement, then every rule the page never stated."""
        for st in self.statements():
            self.report.statements += 1
            if st.claim is not None:
                self._claim(st)
            else:
                self._plan_fact(st)
        self._unstated()

    def _problem(self, st: Statement, message: str, rule: RuleSpec | None = None, loc: tuple[Any, ...] | None = None) -> None:
        """Record a disagreement at the page line (and the rule's line)."""
        rule_line = self.book.rule_line(self.rule_pos[rule.id]) if rule else (self.book.index.line(loc) if loc else None)
        if rule is not None:
            self.disputed.add(rule.id)
        self.report.problems.append(Problem(str(self.page.file), st.line, message, str(self.book.file), rule_line))

    def _claim(self, st: Statement) -> None:
        c = st.claim
        assert c is not None
        rules = [r for r in self.spec.rules if r.model == c.model]
        name = self.words.model(c.model)
        if c.basis:
            match = [r for r in rules if r.basis == c.basis and _variants_fit(r, c.variants)]
            if not match or (c.level and match[0].level != c.level):
                said = self.words.reason(Explanation(kind="never", model=c.model, variant=_one(c.variants), basis=c.basis, level=c.level))
                ruled = "; ".join(self._rule_words(r) for r in rules if _variants_fit(r, c.variants)) or "nothing"
                self._problem(st, f"the page and the rules disagree about {name}: the page says “{said}”; the rules say {ruled}. {FIX}",
                              match[0] if match else rules[-1])
            else:
                self.supported.add(match[0].id)
            return
        if c.verdict == "unlimited" and c.window_kind == "unstated":
            match = [r for r in rules if r.basis == "dates_not_given" and _variants_fit(r, c.variants)
                     and (not c.billing or set(c.billing) == set(r.when.billing or ()))]
            if match:
                self.supported.add(match[0].id)
            else:
                self._problem(st, f"the page says {name} is unlimited for some members whose dates it does not give, "
                                  f"but no rule of {name} says so (verdict unknown, basis dates_not_given). {FIX}", rules[-1])
            return
        if st.exact or (c.quantifier == "only" and c.window is not None):
            self._exact(st, c, rules, name)
            return
        self._entailed(st, c, rules, name)

    def _exact(self, st: Statement, c: Claim, rules: list[RuleSpec], name: str) -> None:
        """A row of a 'covered' table (or 'only members who joined between ...') must be one rule, field for field."""
        candidates = [r for r in rules if r.verdict == c.verdict and _variants_fit(r, c.variants)]
        if c.verdict != "unlimited" or not candidates:
            self._entailed(st, c, rules, name)
            return
        window_only = not st.exact
        scored = sorted(((self._differences(c, r, window_only), n, r) for n, r in enumerate(candidates)), key=lambda t: (len(t[0]), t[1]))
        diffs, _, best = scored[0]
        if not diffs:
            self.supported.add(best.id)
            return
        self._problem(st, f"the page and the rules disagree about {name}: " + "; ".join(diffs) + f". {FIX}", best)

    def _differences(self, c: Claim, r: RuleSpec, window_only: bool) -> list[str]:
        """Return, in words, how a page statement and a rule differ ('the page says Mar 25, 2026; the rule says ...')."""
        w = self.words
        when = r.when
        out: list[str] = []
        if not window_only:
            page_plans = _all_none(c.plans, self.spec.plans)
            rule_plans = _all_none(frozenset(when.plans) if when and when.plans else None, self.spec.plans)
            if page_plans != rule_plans:
                out.append(f"the page says {self._plans_words(page_plans)}; the rule says {self._plans_words(rule_plans)}")
            page_billing = _all_none(c.billing, self.spec.billing)
            rule_billing = _all_none(frozenset(when.billing) if when and when.billing else None, self.spec.billing)
            if page_billing != rule_billing:
                out.append(f"the page says {self._billing_words(page_billing)}; the rule says {self._billing_words(rule_billing)}")
            page_lasts = c.lasts or (0, 0)
            rule_lasts = (r.lasts.years, r.lasts.months) if r.lasts else (0, 0)
            if page_lasts != rule_lasts:
                out.append(f"the page says the benefit lasts {self._lasts_words(page_lasts)}; the rule says {self._lasts_words(rule_lasts)}")
        page_window = self._window_words(c)
        rule_window = self._rule_window_words(r)
        if not _same_window(c, r):
            out.append(f"the page says {page_window}; the rule says {rule_window}")
        return out

    def _entailed(self, st: Statement, c: Claim, rules: list[RuleSpec], name: str) -> None:
        """A sentence of prose must follow from the rules: checked on every kind of customer it is about."""
        verdicts = list(self._verdicts(c))
        wanted = c.verdict
        conditional = c.conditions() or bool(c.variants and c.verdict == "uses_credits")
        if c.quantifier == "all" or conditional:
            ok = all(v == wanted for v in verdicts) if verdicts else False
        else:
            ok = any(v == wanted for v in verdicts)
        if ok:
            if c.variants and c.verdict == "uses_credits":
                self.supported.add(f"variants:{c.model}:{','.join(sorted(c.variants))}")
            return
        said = "is unlimited" if wanted == "unlimited" else "uses credits"
        who = self._claim_words(c)
        truth = "; ".join(self._rule_words(r) for r in rules if r.when is not None and r.verdict != "uses_credits") or \
            self._rule_words(rules[-1])
        self._problem(st, f"the page and the rules disagree about {name}: the page says it {said}{who} "
                          f"(\u201c{st.text.strip()[:120]}\u201d); the rules say {truth}. {FIX}",
                      next((r for r in rules if r.verdict == "unlimited"), rules[-1]))

    def _verdicts(self, c: Claim) -> Iterator[str]:
        """Yield the engine's verdict for every kind of customer a claim is about."""
        return verdicts(self.engine, c)

    def _plan_fact(self, st: Statement) -> None:
        """Check what the page says of a plan or an agent: same benefits as another, a signup date, a default model."""
        f = st.facts
        book = self.reader.books["en"]
        if f.separate_from and st.subject:
            spec = self.spec.models[st.subject]
            if spec.separate_from != f.separate_from:
                self._problem(st, f"the page says {self.words.model(st.subject)} is a separate model from {self.words.model(f.separate_from)}, "
                                  f"but the rules file does not (models.{st.subject}.separate_from). {FIX}", loc=("models", st.subject))
            else:
                self.supported.add(f"model:{st.subject}:separate_from")
        if f.default_of:
            agent, model = f.default_of
            actual = self.spec.models[agent].default_video
            if actual != model:
                self._problem(st, f"the page and the rules disagree about {self.words.model(agent)}: the page says its default video model is "
                                  f"{self.words.model(model)}; the rules say {self.words.model(actual) if actual else 'nothing'}. {FIX}",
                              loc=("models", agent, "default_video"))
            else:
                self.supported.add(f"model:{agent}:default_video")
        for quoted in f.quoted:
            for mid, spec in self.spec.models.items():
                if spec.request_phrase and self.engine.catalog.find_models_in_text(quoted, fuzzy=False) and \
                        any(m.model_id == mid for m in self.engine.catalog.find_models_in_text(quoted, fuzzy=False)):
                    if quoted == spec.request_phrase:
                        self.supported.add(f"model:{mid}:request_phrase")
                    else:
                        self._problem(st, f"the page and the rules disagree about what to type for {self.words.model(mid)}: "
                                          f"the page says \u201c{quoted}\u201d; the rules say \u201c{spec.request_phrase}\u201d. {FIX}",
                                      loc=("models", mid, "request_phrase"))
        for pid in f.plans:
            plan = self.spec.plans[pid]
            if book.find("same_as", st.text):
                others = [p for p in f.plans if p != pid]
                if others and plan.same_as is None:
                    continue
                if plan.same_as and plan.same_as not in f.plans:
                    self._problem(st, f"the page says {plan.name} has the same benefits as {', '.join(self.spec.plans[p].name for p in others)}; "
                                      f"the rules say {self.spec.plans[plan.same_as].name}. {FIX}", loc=("plans", pid, "same_as"))
                elif plan.same_as:
                    self.supported.add(f"plan:{pid}:same_as")
            if f.window is not None and f.window_kind == "from" and f.billing and len(f.plans) == 1:
                cycle = next(iter(f.billing))
                if plan.annual_signup_from is None or cycle != "annual":
                    self._problem(st, f"the page says {plan.name} {cycle} benefits apply to signups on or after {self.words.date(f.window.start)}, "
                                      f"but the rules give {plan.name} no such date (plans.{pid}.annual_signup_from). {FIX}", loc=("plans", pid))
                elif plan.annual_signup_from != f.window.start:
                    self._problem(st, f"the page and the rules disagree about {plan.name} {cycle} signups: the page says on or after "
                                      f"{self.words.date(f.window.start)}; the rules say on or after {self.words.date(plan.annual_signup_from)}. {FIX}",
                                  loc=("plans", pid, "annual_signup_from"))
                else:
                    self.supported.add(f"plan:{pid}:annual_signup_from")
                    if st.subject:
                        # "(Max annual: signups on or after May 22, 2026)" in a model's row states that model's Max rule.
                        for r in self.spec.rules:
                            if r.model == st.subject and r.when and r.when.plans == (pid,) and r.when.billing == (cycle,):
                                self.supported.add(r.id)

    def _unstated(self) -> None:
        """Report every rule and every fact of the rules file that the page does not state."""
        file = str(self.book.file)
        for n, r in enumerate(self.spec.rules):
            if r.id in self.supported or r.id in self.disputed or r.when is None and r.basis is None:
                continue
            if r.verdict == "uses_credits" and r.basis is None and r.when is not None and r.when.variants and self._variants_stated(r):
                continue
            self.report.problems.append(Problem(file, self.book.rule_line(n),
                                                f"{self._rule_words(r)}; but page {self.page.id} does not say so any more "
                                                "(a row, callout or answer that said it was removed). Fix the page or remove the rule.",
                                                kind="missing_row"))
        for pid, plan in self.spec.plans.items():
            if plan.same_as and f"plan:{pid}:same_as" not in self.supported:
                self.report.problems.append(Problem(file, self.book.index.line(("plans", pid, "same_as")),
                                                    f"the page no longer says {plan.name} has the same benefits as {self.spec.plans[plan.same_as].name}", kind="missing_row"))
            if plan.annual_signup_from and f"plan:{pid}:annual_signup_from" not in self.supported:
                self.report.problems.append(Problem(file, self.book.index.line(("plans", pid, "annual_signup_from")),
                                                    f"the page no longer says {plan.name} annual benefits start with signups on or after "
                                                    f"{self.words.date(plan.annual_signup_from)}", kind="missing_row"))
        for mid, spec in self.spec.models.items():
            for key, value in (("default_video", spec.default_video), ("request_phrase", spec.request_phrase), ("separate_from", spec.separate_from)):
                if value and f"model:{mid}:{key}" not in self.supported:
                    self.report.problems.append(Problem(file, self.book.index.line(("models", mid, key)),
                                                        f"the page no longer states models.{mid}.{key} ({value})", kind="missing_row"))
        for key, url in self.spec.links.items():
            if url not in self.page_text:
                self.report.problems.append(Problem(file, self.book.index.line(("links", key)),
                                                    f"link {key} ({url}) is not on page {self.page.id}", kind="missing_row"))

    def _variants_stated(self, r: RuleSpec) -> bool:
        """Return True when the page said these variants always use credits ('2K and 4K still deduct')."""
        return f"variants:{r.model}:{','.join(sorted(r.when.variants or ()))}" in self.supported or r.id in self.supported

    # --- words --------------------------------------------------------------------------------
    def _plans_words(self, plans: frozenset[str] | None) -> str:
        return f"{self.words.join([self.spec.plans[p].name for p in self.spec.plans if p in plans])} members" if plans else "members of any plan"

    def _billing_words(self, billing: frozenset[str] | None) -> str:
        return f"{self.words.join(sorted(billing), 'or')} billing only" if billing else "monthly or annual billing"

    @staticmethod
    def _lasts_words(lasts: tuple[int, int]) -> str:
        years, months = lasts
        parts = ([f"{years} year{'s' * (years != 1)}"] if years else []) + ([f"{months} month{'s' * (months != 1)}"] if months else [])
        return " and ".join(parts) or "with no end"

    def _window_words(self, c: Claim) -> str:
        w = c.window
        if c.window_kind == "unstated":
            return "after dates it does not give"
        if w is None:
            return "regardless of signup date"
        text = w.text if not w.has_year else (self.words.date(w.start) if c.window_kind != "between" else f"{self.words.date(w.start)} and {self.words.date(w.end)}")
        return {"from": f"on or after {text}", "to": f"on or before {text}", "between": f"between {text}"}.get(c.window_kind, text)

    def _rule_window_words(self, r: RuleSpec) -> str:
        when = r.when
        if r.basis == "dates_not_given":
            return "after dates it does not give"
        if not when or (not when.signup_from and not when.signup_to):
            return "regardless of signup date"
        if when.signup_from and when.signup_to:
            return f"between {self.words.date(when.signup_from)} and {self.words.date(when.signup_to)}"
        if when.signup_from:
            return f"on or after {self.words.date(when.signup_from)}"
        return f"on or before {self.words.date(when.signup_to)}"  # type: ignore[arg-type]

    def _rule_words(self, r: RuleSpec) -> str:
        """Return what a rule says, for a writer: 'rule X: Seedream 4.0 is unlimited for ...'."""
        e = self.engine.rule_explanation(r.id)
        name = self.words.model(r.model)
        if e.kind in ("covered", "page_unclear") and e.group is not None:
            return f"rule {r.id!r}: {name} is unlimited for {self.words.group(e.group, r.model, with_variants=True)}"
        return f"rule {r.id!r}: {self.words.reason(e).rstrip('.')}"

    def _claim_words(self, c: Claim) -> str:
        parts = []
        if c.plans:
            parts.append(f" for {self._plans_words(c.plans)}")
        billing = _all_none(c.billing, self.spec.billing)
        if billing:
            parts.append(f" on {self._billing_words(billing)}")
        if c.window_kind:
            parts.append(f" who joined {self._window_words(c)}")
        if c.quantifier == "all" and not parts:
            parts.append(" for everyone")
        return "".join(parts)



def _one(variants: frozenset[str] | None) -> str | None:
    """Return the single variant of a set, or None."""
    return next(iter(variants)) if variants and len(variants) == 1 else None


def _variants_fit(rule: RuleSpec, variants: frozenset[str] | None) -> bool:
    """Return True when a rule is about (some of) the variants a statement names."""
    listed = rule.when.variants if rule.when else None
    return variants is None or listed is None or bool(set(listed) & set(variants))


def _all_none(values: frozenset[str] | None, every: dict[str, Any]) -> frozenset[str] | None:
    """Treat a list of every plan (or billing cycle) as no condition at all."""
    return None if values is None or set(values) >= set(every) else frozenset(values)


def _same_window(c: Claim, r: RuleSpec) -> bool:
    """Return True when a statement's signup window is the rule's (a year the page leaves out is not compared)."""
    when = r.when
    start, end = (when.signup_from, when.signup_to) if when else (None, None)
    if r.basis == "dates_not_given":
        return c.window_kind == "unstated"
    if c.window is None:
        return start is None and end is None
    w = c.window

    def same(a: date | None, b: date) -> bool:
        return a is not None and (a == b if w.has_year else (a.month, a.day) == (b.month, b.day))

    if c.window_kind == "from":
        return end is None and same(start, w.start)
    if c.window_kind == "to":
        return start is None and same(end, w.end)
    return same(start, w.start) and same(end, w.end)


def twin_warnings(pages: list[Page], engine: Engine) -> list[Problem]:
    """List pages without a twin in the other language, and twins whose dates, model names or quoted phrases differ."""
    from bot.twins import find_twins

    out: list[Problem] = []
    twins = find_twins(pages)
    langs = {p.lang for p in pages}
    have = {(t.other.lang, t.base.key) for t in twins}
    for page in pages:
        if page.lang == "en":
            for lang in sorted(langs - {"en"}):
                if (lang, page.key) not in have:
                    out.append(Problem(str(page.file), None, f"page {page.id} has no {lang} twin ({lang}/{page.key})", kind="twin"))
    for twin in twins:
        if not twin.aligned:
            out.append(Problem(str(twin.other.file), None, f"{twin.other.id} does not have the same sections, tables and rows as "
                                                           f"{twin.base.id}: one of them changed; bring the other up to date", kind="twin"))
        if twin.other.unofficial:
            out.append(Problem(str(twin.other.file), None, f"{twin.other.id} is an unofficial translation; replace it with the official page", kind="twin"))
        for base_s, other_s in zip(twin.base.sections, twin.other.sections) if twin.aligned else ():
            for what, a, b in _section_facts(base_s, other_s, engine):
                if a != b:
                    out.append(Problem(str(twin.other.file), other_s.line,
                                       f"{what} differ between twins in section #{base_s.anchor}: {base_s.breadcrumb or 'page'} says "
                                       f"{sorted(a)}, {twin.other.lang} says {sorted(b)}", kind="twin"))
    return out


def _section_facts(a: Section, b: Section, engine: Engine) -> list[tuple[str, set[str], set[str]]]:
    """Return dates, model names and quoted phrases of two twin sections, for comparison."""
    from bot.eligibility.reading import find_dates

    def text(s: Section) -> str:
        return "\n".join([b.text for b in s.blocks] + [" | ".join(r) for t in s.tables for r in t.rows])

    ta, tb = text(a), text(b)
    dates = lambda t: {f"{d.start}..{d.end}" if d.has_year else f"{d.start:%m-%d}..{d.end:%m-%d}" for d in find_dates(t)}  # noqa: E731
    models = lambda t: {m.model_id for m in engine.catalog.find_models_in_text(t, fuzzy=False)}  # noqa: E731
    quoted = lambda t: set(re.findall(r"[\"“]([^\"”]{3,80})[\"”]", t))  # noqa: E731
    return [("dates", dates(ta), dates(tb)), ("models", models(ta), models(tb)), ("quoted phrases", quoted(ta), quoted(tb))]
