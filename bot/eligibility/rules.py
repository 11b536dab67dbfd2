"""Load the rules file, validate it against the schema and the help page, name bad lines."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.errors import SourceError
from bot.eligibility.catalog import Catalog
from bot.eligibility.schema import RulesFile
from bot.eligibility.yamlsource import LineIndex, Loc, load_yaml

if TYPE_CHECKING:
    from bot.mdx import Page


@dataclass(frozen=True)
class SectionRef:
    """A citable section of the source page."""

    anchor: str
    title: str
    url: str


@dataclass(frozen=True)
class RuleBook:
    """A validated rules file: the data, its catalog, citable sections and line numbers."""

    spec: RulesFile
    file: Path
    index: LineIndex
    catalog: Catalog
    sections: dict[str, SectionRef]

    def rule_line(self, position: int) -> int | None:
        """Return the line where rule number `position` starts."""
        return self.index.line(("rules", position))


def load_rules(path: Path, pages: Sequence[Page] | None = None) -> RuleBook:
    """Load and validate the rules; with pages, cited sections must exist on the page."""
    data, index = load_yaml(Path(path))
    try:
        spec = RulesFile.model_validate(data)
    except ValidationError as err:
        raise _schema_error(err, index) from None
    _check_references(spec, index)
    sections = _citable_sections(spec, index, pages)
    _check_citations(spec, index, sections)
    catalog = Catalog(spec)
    for name, key, old, new in catalog.conflicts:
        model = spec.models[new[0]]
        loc: Loc = ("models", new[0], "aliases", model.aliases.index(name)) if name in model.aliases else ("models", new[0])
        raise index.error(loc, f"spelling {name!r} ({key}) already means {_target(catalog, old)}")
    return RuleBook(spec, Path(path), index, catalog, sections)


def _target(catalog: Catalog, target: tuple[str, str | None]) -> str:
    """Return a model (and variant) name for an error message."""
    return repr(catalog.display(*target))


def _schema_error(err: ValidationError, index: LineIndex) -> SourceError:
    """Turn the first schema error into a SourceError at its line."""
    first = err.errors()[0]
    loc: Loc = tuple(first["loc"])
    where = ".".join(str(part) for part in loc)
    if first["type"] == "extra_forbidden":
        message = f"unknown field {loc[-1]!r} (at {where})"
    elif first["type"] == "missing":
        message = f"missing field {loc[-1]!r} (at {where})"
    else:
        message = f"{where}: {first['msg'].removeprefix('Value error, ')}"
    more = err.error_count() - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return index.error(loc, message)


def _check_references(spec: RulesFile, index: LineIndex) -> None:
    """Check that every id a part of the file refers to exists, and every model has rules."""
    for pid, plan in spec.plans.items():
        if plan.same_as is not None:
            target = spec.plans.get(plan.same_as)
            if target is None or plan.same_as == pid or target.same_as is not None:
                raise index.error(("plans", pid, "same_as"), f"plan {pid!r}: same_as must name another plan that has no same_as of its own")
        if plan.annual_signup_from and "annual" not in spec.billing:
            raise index.error(("plans", pid, "annual_signup_from"), "annual_signup_from needs a billing cycle with id 'annual'")
    for mid, model in spec.models.items():
        if model.kind not in spec.kinds:
            raise index.error(("models", mid, "kind"), f"model {mid!r}: unknown kind {model.kind!r}; kinds are {', '.join(spec.kinds)}")
        if model.separate_from and model.separate_from not in spec.models:
            raise index.error(("models", mid, "separate_from"), f"model {mid!r}: unknown separate_from {model.separate_from!r}")
        if model.default_video and model.default_video not in spec.models:
            raise index.error(("models", mid, "default_video"), f"model {mid!r}: unknown default_video {model.default_video!r}")
    seen: dict[str, int] = {}
    by_model: dict[str, list[int]] = {mid: [] for mid in spec.models}
    for pos, rule in enumerate(spec.rules):
        loc: Loc = ("rules", pos)
        if rule.id in seen:
            raise index.error(loc + ("id",), f"rule id {rule.id!r} is used twice (first at line {index.line(('rules', seen[rule.id]))})")
        seen[rule.id] = pos
        if rule.model not in spec.models:
            raise index.error(loc + ("model",), f"rule {rule.id!r}: unknown model {rule.model!r}")
        by_model[rule.model].append(pos)
        _check_when(spec, index, pos)
    for pid, plan in spec.plans.items():
        if plan.annual_rule:
            if plan.annual_rule.id in seen:
                raise index.error(("plans", pid, "annual_rule", "id"), f"rule id {plan.annual_rule.id!r} is also used by a rule")
    for mid, positions in by_model.items():
        if not positions:
            raise index.error(("models", mid), f"model {mid!r} has no rule; add at least a last rule without 'when'")
        for pos in positions[:-1]:
            if spec.rules[pos].when is None:
                nxt = positions[positions.index(pos) + 1]
                raise index.error(("rules", nxt), f"rule {spec.rules[nxt].id!r} can never apply: rule {spec.rules[pos].id!r} above it has no 'when'")
        last = spec.rules[positions[-1]]
        if last.when is not None:
            raise index.error(("rules", positions[-1], "when"), f"the last rule of model {mid!r} ({last.id!r}) must have no 'when', so every case gets an answer")


def _check_when(spec: RulesFile, index: LineIndex, pos: int) -> None:
    """Check the ids used in one rule's conditions."""
    rule = spec.rules[pos]
    if rule.when is None:
        return
    loc: Loc = ("rules", pos, "when")
    model = spec.models[rule.model]
    checks: list[tuple[str, Iterable[str] | None, Iterable[str]]] = [
        ("plans", rule.when.plans, spec.plans),
        ("billing", rule.when.billing, spec.billing),
        ("variants", rule.when.variants, model.variants),
    ]
    for field, used, known in checks:
        for n, ident in enumerate(used or ()):
            if ident not in known:
                choices = ", ".join(known) or "none"
                raise index.error(loc + (field, n), f"rule {rule.id!r}: unknown {field[:-1] if field != 'billing' else 'billing'} {ident!r} (known: {choices})")


def _citable_sections(spec: RulesFile, index: LineIndex, pages: Sequence[Page] | None) -> dict[str, SectionRef]:
    """Return the sections rules may cite: the declared ones, checked against the page if given."""
    base = spec.source.url.rstrip("/")
    declared = {a: SectionRef(a, title, f"{base}#{a}") for a, title in spec.source.sections.items()}
    if pages is None:
        return declared
    page = next((p for p in pages if p.id == spec.source.page), None)
    if page is None:
        raise index.error(("source", "page"), f"page {spec.source.page!r} is not among the help-center pages")
    on_page = {s.anchor: s for s in page.sections if s.anchor}
    _cited_missing_first(spec, index, set(on_page))
    for anchor in declared:
        if anchor not in on_page:
            raise index.error(("source", "sections", anchor), f"section #{anchor} is not on page {page.id}")
    return {a: SectionRef(a, " › ".join(on_page[a].path), on_page[a].url) for a in declared}


def _citations(spec: RulesFile) -> list[tuple[Loc, str, str]]:
    """Return (location, who, anchor) for every section the file cites."""
    out: list[tuple[Loc, str, str]] = [(("rules", n, "section"), f"rule {r.id!r}", r.section) for n, r in enumerate(spec.rules)]
    out += [(("plans", pid, "annual_rule", "section"), f"plan {pid!r}", p.annual_rule.section) for pid, p in spec.plans.items() if p.annual_rule]
    out += [(("acknowledged_rows", n, "section"), f"row {r.text!r}", r.section) for n, r in enumerate(spec.acknowledged_rows)]
    return out


def _cited_missing_first(spec: RulesFile, index: LineIndex, anchors: set[str]) -> None:
    """Report a citation of a section the page does not have, at the citing line."""
    for loc, who, anchor in _citations(spec):
        if anchor not in anchors:
            raise index.error(loc, f"{who} cites section #{anchor}, which is not on page {spec.source.page}")


def _check_citations(spec: RulesFile, index: LineIndex, sections: dict[str, Any]) -> None:
    """Check that every citation names a declared section."""
    for loc, who, anchor in _citations(spec):
        if anchor not in sections:
            raise index.error(loc, f"{who} cites section #{anchor}, which is not listed under source.sections")
