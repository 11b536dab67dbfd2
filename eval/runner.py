"""Run cases through the real answer API in an isolated data folder and grade every last turn."""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bot.settings import Settings
from eval.grading import expected_sections, grade
from eval.knowledge import Knowledge
from eval.schema import LoadedCase
from eval.scorers import Score

ANSWER_FIELDS = ("answer", "route", "sources", "tool_calls", "mode", "language", "retrieved", "usage", "corrected")


@dataclass
class TurnRecord:
    """One customer message and what the bot did with it."""

    question: str
    answer: str
    route: str
    seconds: float
    tokens: int


@dataclass
class CaseResult:
    """Everything one case produced: its turns, the final answer, every score."""

    id: str
    file: str
    priority: str
    tags: list[str]
    question: str
    turns: list[TurnRecord] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)
    judged: list[Score] = field(default_factory=list)
    error: str | None = None
    expected_sections: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Return True when every gating check passed and nothing crashed."""
        return self.error is None and all(s.passed for s in self.scores)

    @property
    def failed_checks(self) -> list[str]:
        """Return the names of the checks that failed."""
        names = [s.name for s in self.scores if not s.passed]
        return names + (["error"] if self.error else [])

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape stored in results.json."""
        return {
            "id": self.id, "file": self.file, "priority": self.priority, "tags": self.tags,
            "question": self.question, "passed": self.passed, "failed_checks": self.failed_checks,
            "error": self.error, "scores": [s.to_dict() for s in self.scores],
            "judged": [s.to_dict() for s in self.judged],
            "turns": [t.__dict__ for t in self.turns], "final": self.final,
            "expected_sections": self.expected_sections,
        }


@dataclass(frozen=True)
class RunOptions:
    """How to run: the day to answer for, the retrieval depth, the answering mode."""

    as_of: date
    k: int = 5
    mode: str = "offline"


def eval_settings(base: Settings, data_dir: Path, *, mode: str, reuse_index: Path | None = None) -> Settings:
    """Return settings with a private data folder and database; offline mode drops any model config."""
    update: dict[str, Any] = {"data_dir": reuse_index or data_dir, "database_url": f"sqlite:///{data_dir / 'eval.db'}"}
    if mode == "offline":
        update |= {"openai_api_key": None, "openai_base_url": None}
    return base.model_copy(update=update)


@contextmanager
def isolated_settings(base: Settings, mode: str, data_dir: Path | None = None) -> Iterator[Settings]:
    """Yield eval settings over a temporary folder (or data_dir, whose index is built or updated)."""
    with tempfile.TemporaryDirectory(prefix="carat-eval-") as tmp:
        yield eval_settings(base, Path(tmp), mode=mode, reuse_index=data_dir)


def make_bots(settings: Settings) -> Callable[[date], Any]:
    """Return a function giving one bot per as-of day; the index is synced to the pages first."""
    from bot.service import make_bot
    from bot.store import build_index

    build_index(settings)  # incremental: a reused folder is brought up to date with the pages
    bots: dict[date, Any] = {}

    def bot_for(day: date) -> Any:
        if day not in bots:
            bots[day] = make_bot(settings, today=lambda: day)
        return bots[day]

    return bot_for


def run_case(lc: LoadedCase, bot_for: Callable[[date], Any], knowledge: Knowledge, options: RunOptions) -> CaseResult:
    """Ask every message of a case in one conversation and grade the last answer."""
    case = lc.case
    day = case.today or options.as_of
    result = CaseResult(case.id, lc.file.name, case.priority, list(case.tags), case.last_question)
    result.expected_sections = sorted(expected_sections(case, knowledge), key=lambda s: (s in knowledge.twin_of, s))
    conversation: str | None = None
    try:
        bot = bot_for(day)
        for turn in case.turns:
            profile = turn.profile if turn.profile is not None else case.profile
            if turn.profile is not None and case.profile is not None:
                profile = case.profile.merged(turn.profile)
            started = time.perf_counter()
            answer = bot.ask(turn.text, session_id=conversation, profile=profile)
            seconds = time.perf_counter() - started
            conversation = answer.session_id
            tokens = answer.usage.prompt_tokens + answer.usage.completion_tokens
            result.turns.append(TurnRecord(turn.text, answer.answer, answer.route, round(seconds, 4), tokens))
            result.final = answer.model_dump(mode="json", include=set(ANSWER_FIELDS))
    except Exception as err:  # one broken case must not hide the others
        result.error = f"{type(err).__name__}: {err}"
        return result
    result.scores = grade(case, result.final, knowledge, as_of=day, k=options.k)
    return result


def run_cases(cases: list[LoadedCase], bot_for: Callable[[date], Any], knowledge: Knowledge, options: RunOptions,
              progress: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Run every case in order; report each result as it lands."""
    out = []
    for lc in cases:
        res = run_case(lc, bot_for, knowledge, options)
        out.append(res)
        if progress:
            progress(res)
    return out
