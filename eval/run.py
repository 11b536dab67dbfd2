"""One eval run end to end: cases in, results.json, junit.xml and report.html out, gate decided."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from bot.settings import ROOT, Settings, get_settings
from eval.gate import BASELINE, THRESHOLDS, baseline_answers, check_gate, load_baseline, load_config
from eval.knowledge import knowledge_lines, knowledge_problems, load_knowledge
from eval.report_html import write_html
from eval.report_text import write_junit
from eval.results import SCHEMA_VERSION, aggregate, git_info, tree_hash, write_json
from eval.runner import CaseResult, RunOptions, isolated_settings, make_bots, run_cases
from eval.schema import CASES_DIR, load_cases, select

OUT_DIR = ROOT / "eval" / "out"


@dataclass
class RunRequest:
    """What to run and where to write; every field has a default for `python -m eval run`."""

    mode: str = "offline"
    settings: Settings | None = None
    cases_dir: Path = CASES_DIR
    ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    out_dir: Path | None = OUT_DIR
    baseline: Path = BASELINE
    thresholds: Path = THRESHOLDS
    data_dir: Path | None = None
    fresh: bool = False
    as_of: date | None = None
    judge_repeats: int = 0


def input_hashes(settings: Settings) -> dict[str, str | None]:
    """Return hashes of what answers depend on: prompts, rules, help-center pages."""
    return {
        "prompts": tree_hash(ROOT / "prompts"),
        "rules": tree_hash(settings.rules_file.parent),
        "help_center": tree_hash(settings.pages_path),
    }


def execute(req: RunRequest, progress: Callable[[CaseResult], None] | None = None) -> dict[str, Any]:
    """Run the selected cases and return the results document (gate included)."""
    config = load_config(req.thresholds)
    base = req.settings or get_settings()
    if req.mode == "llm" and not base.llm_enabled:
        raise SystemExit("--mode llm needs a model: set OPENAI_API_KEY or OPENAI_BASE_URL")
    loaded, _ = load_cases(req.cases_dir)
    chosen = select(loaded, req.ids or None, req.tags or None, req.priority)
    if not chosen:
        raise SystemExit("no case matches the filters")
    as_of = req.as_of or config.run.as_of
    options = RunOptions(as_of=as_of, k=config.run.k, mode=req.mode)
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    # The page and the rules must agree before any answer is worth scoring: check-rules runs first.
    disagreements = knowledge_problems(base)
    # The eval keeps its own index (content-addressed, so an unchanged chunk is never embedded twice) apart
    # from the live bot's; --fresh builds one in a temporary folder instead.
    index_dir = req.data_dir or (None if req.fresh else base.data_dir / "eval")
    with isolated_settings(base, req.mode, index_dir) as settings:
        knowledge = load_knowledge(settings)
        bot_for = make_bots(settings)
        results = run_cases(chosen, bot_for, knowledge, options, progress)
        if req.judge_repeats > 0 and req.mode == "llm":
            from eval.judge import judge_results

            judge_results(results, chosen, knowledge, settings, repeats=req.judge_repeats)
    cases = [r.to_dict() for r in results]
    aggregates = aggregate(cases)
    full_run = len(chosen) == len(loaded) and req.as_of is None
    baseline = load_baseline(req.baseline)
    gate = check_gate(cases, aggregates, req.mode, config, baseline, full_run=full_run,
                      knowledge=knowledge_lines(disagreements))
    before = baseline_answers(baseline, req.mode)
    for c in cases:
        if c["id"] in gate.changed:
            c["baseline"] = {"answer": before[c["id"]].get("answer"), "route": before[c["id"]].get("route"),
                             "passed": before[c["id"]].get("passed")}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "mode": req.mode, "as_of": as_of.isoformat(), "k": options.k, "started": started.isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - clock, 2), "git": git_info(), "hashes": input_hashes(base),
            "full_run": full_run, "cases_total": len(loaded), "cases_run": len(chosen),
            "filters": {"ids": req.ids, "tags": req.tags, "priority": req.priority},
            "judge_repeats": req.judge_repeats,
        },
        "knowledge_check": disagreements,
        "section_titles": {sid: title for c in cases for sid in c["expected_sections"]
                           for title in [knowledge.sections.get(sid)] if title},
        "aggregates": aggregates,
        "thresholds": {k: v.model_dump(exclude_none=True) for k, v in config.thresholds.items()},
        "gate": gate.to_dict(),
        "cases": cases,
    }
    if req.out_dir is not None:
        write_reports(doc, req.out_dir)
    return doc


def write_reports(doc: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write results.json, junit.xml and report.html into out_dir."""
    return {
        "results": write_json(out_dir / "results.json", doc),
        "junit": write_junit(out_dir / "junit.xml", doc),
        "html": write_html(out_dir / "report.html", doc),
    }
