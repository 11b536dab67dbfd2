"""Aggregate case results and write the versioned results.json."""
from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.settings import ROOT

SCHEMA_VERSION = 2
# Aggregate name -> the check whose pass rate it is.
CHECK_RATES = {
    "route_accuracy": "route",
    "retrieval_hit_at_k": "retrieval",
    "tool_call_accuracy": "tool_call",
    "tool_consistency": "tool_consistency",
    "required_facts_rate": "required_facts",
    "forbidden_claims_rate": "forbidden_claims",
    "citation_validity": "citations",
    "no_invented_numbers": "no_invented_numbers",
    "evidence_rate": "evidence",
    "language_accuracy": "language",
    "answer_verdict_rate": "answer_verdict",
}


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _rate(passed: Iterable[bool]) -> float | None:
    """Return the share of True, or None when there is nothing to count."""
    items = list(passed)
    return round(sum(items) / len(items), 4) if items else None


def aggregate(cases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Return run-wide figures: pass rates, retrieval, latency, tokens, and breakdowns by tag and priority."""
    scores = defaultdict(list)
    for c in cases:
        for s in c["scores"]:
            scores[s["name"]].append(s)
    out: dict[str, Any] = {
        "cases": len(cases),
        "passed": sum(1 for c in cases if c["passed"]),
        "pass_rate": _rate(c["passed"] for c in cases),
        "critical_pass_rate": _rate(c["passed"] for c in cases if c["priority"] == "critical"),
    }
    for name, check in CHECK_RATES.items():
        out[name] = _rate(s["passed"] for s in scores.get(check, []))
    rr = [float(s["value"] or 0.0) for s in scores.get("retrieval", [])]
    out["retrieval_hit_at_1"] = _rate(v == 1.0 for v in rr)
    out["retrieval_mrr"] = round(statistics.fmean(rr), 4) if rr else None
    turns = [t for c in cases for t in c["turns"]]
    ms = [t["seconds"] * 1000 for t in turns]
    out["latency_p50_ms"] = round(percentile(ms, 50), 1)
    out["latency_p95_ms"] = round(percentile(ms, 95), 1)
    out["tokens_per_turn"] = round(statistics.fmean(t["tokens"] for t in turns), 1) if turns else 0.0
    finals = [c.get("final") or {} for c in cases if c.get("final")]
    out["corrected_rate"] = _rate(bool(f.get("corrected")) for f in finals)
    out["answer_modes"] = dict(sorted(Counter(str(f.get("mode")) for f in finals).items()))
    judged = defaultdict(list)
    for c in cases:
        for s in c.get("judged", []):
            if isinstance(s["value"], (int, float)):
                judged[s["name"]].append(float(s["value"]))
    out["judged"] = {k: round(statistics.fmean(v), 4) for k, v in judged.items()}
    out["by_tag"] = _breakdown(cases, lambda c: c["tags"] or ["(untagged)"])
    out["by_priority"] = _breakdown(cases, lambda c: [c["priority"]])
    return out


def _breakdown(cases: Sequence[dict[str, Any]], keys: Any) -> dict[str, dict[str, Any]]:
    """Return {group: {cases, passed, pass_rate}} for a grouping function."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for c in cases:
        for key in keys(c):
            groups[key].append(c["passed"])
    return {k: {"cases": len(v), "passed": sum(v), "pass_rate": _rate(v)} for k, v in sorted(groups.items())}


def tree_hash(path: Path) -> str | None:
    """Return a sha256 over the relative paths and bytes of every file under path (or of one file)."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        rel = f.name if path.is_file() else f.relative_to(path).as_posix()
        digest.update(rel.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def git_info(root: Path = ROOT) -> dict[str, Any]:
    """Return the commit and whether the work tree has changes (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write data as indented UTF-8 JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return path
