"""Cross-check the rules against the help pages: every table row has rules, every citation exists."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import SourceError
from bot.eligibility.catalog import compact
from bot.eligibility.rules import RuleBook, load_rules

_PARENS = re.compile(r"\([^()]*\)")
_TOKEN = re.compile(r"[^\W_]+", re.U)


@dataclass(frozen=True)
class Problem:
    """One inconsistency, located in a page or the rules file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class CheckReport:
    """What was checked and what is wrong."""

    rules_file: str
    page: str | None = None
    rows: int = 0
    rules: int = 0
    problems: list[Problem] = field(default_factory=list)

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
            "rules": self.rules,
            "problems": [asdict(p) for p in self.problems],
        }


def check_rules(rules_path: Path, pages_dir: Path, base_url: str) -> CheckReport:
    """Load pages and rules together and report every inconsistency found."""
    from bot.mdx import load_pages  # the page parser is only needed for this check

    report = CheckReport(str(rules_path))
    try:
        pages = load_pages(pages_dir, base_url)
        book = load_rules(rules_path, pages)
    except SourceError as err:
        report.problems.append(Problem(str(err.details.get("file")), err.details.get("line"), _bare(err)))
        return report
    page = next(p for p in pages if p.id == book.spec.source.page)
    report.page, report.rules = page.id, len(book.spec.rules)
    _check_source(book, page, report)
    _check_rows(book, page, report)
    return report


def _bare(err: SourceError) -> str:
    """Return the message of a SourceError without its 'file:line: ' prefix."""
    file, line = err.details.get("file"), err.details.get("line")
    prefix = f"{file}:{line}: " if line else f"{file}: "
    return err.message.removeprefix(prefix)


def _check_source(book: RuleBook, page: Any, report: CheckReport) -> None:
    """Check the page title, URL and section titles the rules file repeats."""
    spec, line = book.spec.source, book.index.line
    file = str(book.file)
    if spec.title != page.title:
        report.problems.append(Problem(file, line(("source", "title")), f"source.title {spec.title!r} differs from the page title {page.title!r}"))
    if spec.url.rstrip("/") != page.url.rstrip("/"):
        report.problems.append(Problem(file, line(("source", "url")), f"source.url {spec.url!r} differs from the page URL {page.url!r}"))
    for anchor, title in spec.sections.items():
        actual = " › ".join(page.section(anchor).path)
        if title != actual:
            report.problems.append(Problem(file, line(("source", "sections", anchor)), f"section #{anchor} is titled {actual!r} on the page, not {title!r}"))


def _check_rows(book: RuleBook, page: Any, report: CheckReport) -> None:
    """Check that the first cell of every table row names catalog models and nothing else."""
    acknowledged = {(compact(r.text), r.section): n for n, r in enumerate(book.spec.acknowledged_rows)}
    used: set[int] = set()
    for section in page.sections:
        for table in section.tables:
            for row, row_line in zip(table.rows, table.row_lines):
                report.rows += 1
                cell = row[0] if row else ""
                ack = acknowledged.get((compact(cell), section.anchor))
                if ack is not None:
                    used.add(ack)
                    continue
                problem = _row_problem(book, cell)
                if problem:
                    report.problems.append(Problem(str(page.file), row_line, f"table row {cell!r} in section #{section.anchor}: {problem}"))
    for n, row in enumerate(book.spec.acknowledged_rows):
        if n not in used:
            report.problems.append(Problem(str(book.file), book.index.line(("acknowledged_rows", n)), f"acknowledged row {row.text!r} is no longer in section #{row.section}"))


def _row_problem(book: RuleBook, cell: str) -> str | None:
    """Return why a row's model cell is not covered by the rules, or None if it is."""
    text = _PARENS.sub(" ", cell)  # "(base)", "(LTX model)", "(1K, 2K)" qualify the name
    mentions = book.catalog.find_models_in_text(text, fuzzy=False)
    if not mentions:
        return f"names no model in {book.file.name}; add the model with its rules, or list the row under acknowledged_rows"
    covered = set()
    for m in mentions:
        covered.update(range(m.start, m.end))
    extra = [t.group() for t in _TOKEN.finditer(text) if t.start() not in covered]
    if extra:
        names = ", ".join(sorted({book.catalog.display(m.model_id, m.variant) for m in mentions}))
        return f"{' '.join(extra)!r} is not part of a known model name (matched: {names}); add the model with its rules"
    return None
