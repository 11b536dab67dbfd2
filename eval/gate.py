"""The regression gate: critical cases, cases that passed in the baseline, aggregate thresholds."""
from __future__ import annotations

import re

import json
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from eval.results import SCHEMA_VERSION

EVAL_DIR = Path(__file__).resolve().parent
THRESHOLDS = EVAL_DIR / "thresholds.yaml"
BASELINE = EVAL_DIR / "baseline.json"


class Limit(BaseModel):
    """A bound on one aggregate, optionally only for some modes."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    modes: list[Literal["offline", "llm", "degraded"]] | None = Field(None, description="Modes it applies to (default: all).")


class RunDefaults(BaseModel):
    """Defaults of a run: the day answers are given for, retrieval depth, the gaps score floor."""

    model_config = ConfigDict(extra="forbid")

    as_of: date
    k: int = Field(5, ge=1, le=50)
    low_score: float = Field(0.8, ge=0, le=1)


class GateConfig(BaseModel):
    """The thresholds file."""

    model_config = ConfigDict(extra="forbid")

    run: RunDefaults
    thresholds: dict[str, Limit] = {}


def load_config(path: Path = THRESHOLDS) -> GateConfig:
    """Read and validate the thresholds file."""
    try:
        return GateConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise SystemExit(f"{path}: {err}") from None


@dataclass
class GateReport:
    """Why a run fails the gate (all empty means it passes)."""

    critical: list[str] = field(default_factory=list)
    knowledge: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    below: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    new_failures: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # the answer differs from the baseline's (passing or not)
    baseline: str | None = None

    @property
    def passed(self) -> bool:
        """Return True when nothing blocks."""
        return not (self.critical or self.knowledge or self.regressions or self.below)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape."""
        return {"passed": self.passed, **self.__dict__}


def load_baseline(path: Path = BASELINE) -> dict[str, Any] | None:
    """Return the baseline file, or None when there is none yet."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema_version") != SCHEMA_VERSION:
        # An older format cannot be compared case by case: run as if there were none until it is blessed again.
        sys.stderr.write(f"{path}: schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}; "
                         "ignored until `python -m eval bless`\n")
        return None
    return data


def baseline_answers(baseline: dict[str, Any] | None, mode: str) -> dict[str, dict[str, Any]]:
    """Return case id -> what the baseline recorded (answer, route, passed) for one mode."""
    return (((baseline or {}).get("modes") or {}).get(mode) or {}).get("cases", {})


def check_gate(cases: list[dict[str, Any]], aggregates: dict[str, Any], mode: str, config: GateConfig,
               baseline: dict[str, Any] | None, *, full_run: bool, knowledge: list[str] | None = None) -> GateReport:
    """Return what blocks: pages and rules that disagree, failing critical cases, regressions, aggregates out of bounds."""
    report = GateReport(knowledge=list(knowledge or []))
    base = ((baseline or {}).get("modes") or {}).get(mode)
    base_cases: dict[str, Any] = (base or {}).get("cases", {})
    report.baseline = (base or {}).get("blessed_at")
    for c in cases:
        was = base_cases.get(c["id"])
        if was is not None and was.get("answer") is not None and \
                _same_words(was["answer"]) != _same_words((c.get("final") or {}).get("answer")):
            report.changed.append(c["id"])
        if not c["passed"] and c["priority"] == "critical":
            report.critical.append(c["id"])
        if not c["passed"] and was is not None and was.get("passed"):
            report.regressions.append(c["id"])
        elif not c["passed"] and was is None:
            report.new_failures.append(c["id"])
        elif c["passed"] and was is not None and not was.get("passed"):
            report.fixed.append(c["id"])
    if full_run:
        report.below = threshold_failures(aggregates, mode, config)
    return report


def threshold_failures(aggregates: dict[str, Any], mode: str, config: GateConfig) -> list[str]:
    """Return a line for every aggregate outside its bound in this mode."""
    out = []
    for name, limit in config.thresholds.items():
        if limit.modes and mode not in limit.modes:
            continue
        value = aggregates.get(name)
        if value is None:
            continue
        if limit.min is not None and value < limit.min:
            out.append(f"{name} {value} < min {limit.min}")
        if limit.max is not None and value > limit.max:
            out.append(f"{name} {value} > max {limit.max}")
    return out


def blessed(results: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Return the baseline with this run's mode replaced by the run's outcome per case."""
    run = results["run"]
    data = previous or {"schema_version": SCHEMA_VERSION, "modes": {}}
    data["schema_version"] = SCHEMA_VERSION
    data["modes"][run["mode"]] = {
        "blessed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": run["git"]["commit"],
        "as_of": run["as_of"],
        "hashes": run["hashes"],
        "aggregates": {k: v for k, v in results["aggregates"].items() if not isinstance(v, dict)},
        "cases": {c["id"]: {"passed": c["passed"], "failed_checks": c["failed_checks"],
                            "answer": (c.get("final") or {}).get("answer"), "route": (c.get("final") or {}).get("route")}
                  for c in results["cases"]},
    }
    return data


# A ticket reference is new for every handoff: an answer that differs only there has not changed.
TICKET_REF = re.compile(r"\bCS-[A-Z0-9]{4,12}\b")


def _same_words(answer: str | None) -> str | None:
    """Return an answer with what differs on every run (ticket references) made equal."""
    return TICKET_REF.sub("CS-…", answer) if answer else answer
