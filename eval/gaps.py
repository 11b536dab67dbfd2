"""Content gaps: stored questions that got a handoff, a weak search match or a thumbs-down, by topic."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

NO_TOPIC = "(nothing retrieved)"


@dataclass
class Gap:
    """One stored question worth a docs writer's look."""

    question: str
    reasons: list[str]
    route: str
    top_section: str | None
    top_score: float | None
    created_at: str
    comment: str | None = None


@dataclass
class GapReport:
    """Gaps grouped by topic, biggest group first."""

    turns_read: int = 0
    groups: dict[str, list[Gap]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {"turns_read": self.turns_read,
                "topics": [{"topic": t, "count": len(g), "questions": [x.__dict__ for x in g]} for t, g in self.groups.items()]}


def gap_reasons(turn: dict[str, Any], low_score: float) -> list[str]:
    """Return why a turn is a gap: handoff, low retrieval score, thumbs-down (empty when it is not)."""
    reasons = []
    if turn.get("route") == "handoff":
        reasons.append("handoff")
    score = turn.get("top_score")
    if score is None and turn.get("retrieved"):
        score = turn["retrieved"][0].get("dense")
    # No score means no search was made (a verdict straight from the rules): nothing to judge.
    if score is not None and score < low_score:
        reasons.append(f"low score {score:.2f}")
    if turn.get("rating") == "down":
        reasons.append("thumbs-down" + (f": {turn['comment']}" if turn.get("comment") else ""))
    return reasons


def topic_of(turn: dict[str, Any], models_in: Callable[[str], list[str]]) -> str:
    """Return a turn's topic: the model it names, else its top retrieved section."""
    models = models_in(turn.get("question") or "")
    if models:
        return "model: " + ", ".join(dict.fromkeys(models))
    for r in turn.get("retrieved") or []:
        return "section: " + str(r.get("section") or r.get("section_id"))
    return NO_TOPIC


def find_gaps(turns: Iterable[dict[str, Any]], models_in: Callable[[str], list[str]], low_score: float,
              since: str | None = None) -> GapReport:
    """Return the gap turns grouped by topic."""
    report = GapReport()
    groups: dict[str, list[Gap]] = defaultdict(list)
    for turn in turns:
        if since and str(turn.get("created_at", "")) < since:
            continue
        report.turns_read += 1
        reasons = gap_reasons(turn, low_score)
        if not reasons:
            continue
        top = (turn.get("retrieved") or [{}])[0]
        groups[topic_of(turn, models_in)].append(Gap(
            str(turn.get("question", "")), reasons, str(turn.get("route", "")), top.get("section_id"),
            turn.get("top_score"), str(turn.get("created_at", "")), turn.get("comment"),
        ))
    report.groups = dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    return report


def gaps_text(report: GapReport, low_score: float) -> str:
    """Return the report for people."""
    total = sum(len(g) for g in report.groups.values())
    lines = [f"{total} of {report.turns_read} stored question(s) need attention "
             f"(handoff, top search score below {low_score}, or thumbs-down)"]
    for topic, gaps in report.groups.items():
        lines += ["", f"{topic} ({len(gaps)})"]
        for g in gaps:
            lines.append(f"  - {g.question[:120]}")
            lines.append(f"      {', '.join(g.reasons)} · route {g.route} · {g.created_at[:10]}")
    return "\n".join(lines)
