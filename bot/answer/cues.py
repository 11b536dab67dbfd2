"""Cue words customers use (knowledge/cues.yaml), compiled per language: data, not code."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError

LIST_CUES = ("handoff", "handoff_accept", "money", "frustration", "injection", "profile_table", "follow_up", "until_when", "future_day",
             "amount", "domain", "eligibility_words")
ONE_CUES = ("plan_context_after", "plan_context_before", "not_a_plan_after", "negation_before", "negation_after", "correction")


@dataclass(frozen=True)
class Holiday:
    """A named day: a holiday of the `holidays` calendar, shifted by some days."""

    holiday: str
    country: str
    days: int = 0
    next_year: bool = False


@dataclass
class Cues:
    """One language's cue patterns."""

    lang: str
    rx: dict[str, re.Pattern[str]] = field(default_factory=dict)
    holidays: dict[str, Holiday] = field(default_factory=dict)
    forms: dict[str, re.Pattern[str]] = field(default_factory=dict)  # what kind of answer a question asks for

    def has(self, name: str, text: str) -> bool:
        """Return True when text contains the cue."""
        rx = self.rx.get(name)
        return bool(rx and rx.search(text))

    def forms_of(self, text: str) -> frozenset[str]:
        """Return the kinds of answer a question (or a heading) asks for: how_to, how_long, when, where, why ..."""
        return frozenset(name for name, rx in self.forms.items() if rx.search(text))

    def find(self, name: str, text: str) -> re.Match[str] | None:
        """Return the first match of a cue in text."""
        rx = self.rx.get(name)
        return rx.search(text) if rx else None


def _compile(patterns: Any, where: str) -> re.Pattern[str]:
    """Compile one pattern or a list of them; a bad pattern names its entry."""
    items = patterns if isinstance(patterns, list) else [patterns]
    try:
        return re.compile("|".join(f"(?:{p})" for p in items), re.I)
    except re.error as err:
        raise SourceError(f"bad pattern in {where}: {err}", file=where.split(":")[0]) from None


@lru_cache(maxsize=4)
def load_cues(path: Path) -> dict[str, Cues]:
    """Load knowledge/cues.yaml: every language's cue patterns and named days."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SourceError(f"cannot read cue words ({err})", file=str(path)) from err
    out: dict[str, Cues] = {}
    for lang, entries in data.items():
        cues = Cues(lang)
        for name in LIST_CUES + ONE_CUES:
            if entries.get(name):
                cues.rx[name] = _compile(entries[name], f"{path}: {lang}.{name}")
        for form, patterns in (entries.get("question_forms") or {}).items():
            cues.forms[str(form)] = _compile(patterns, f"{path}: {lang}.question_forms.{form}")
        for phrase, spec in (entries.get("holidays") or {}).items():
            cues.holidays[str(phrase).casefold()] = Holiday(**spec)
        out[lang] = cues
    if "en" not in out:
        raise SourceError("cue words need an 'en' section", file=str(path))
    return out
