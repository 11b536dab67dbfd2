"""Terminal summary and JUnit XML of a run."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

SHOWN_AGGREGATES = (
    "pass_rate", "critical_pass_rate", "route_accuracy", "retrieval_hit_at_1", "retrieval_hit_at_k", "retrieval_mrr",
    "tool_call_accuracy", "tool_consistency", "required_facts_rate", "forbidden_claims_rate", "citation_validity",
    "no_invented_numbers", "evidence_rate", "language_accuracy", "answer_verdict_rate", "latency_p50_ms", "latency_p95_ms",
    "tokens_per_turn",
    "corrected_rate",
)


def failure_lines(case: dict[str, Any]) -> list[str]:
    """Return one line per failed check of a case: 'check: reason'."""
    lines = [f"{s['name']}: {s['reason']}" for s in case["scores"] if not s["passed"]]
    return lines + ([f"error: {case['error']}"] if case.get("error") else [])


def summary(results: dict[str, Any], *, verbose: bool = False) -> str:
    """Return the run summary people read in a terminal or CI log."""
    run, agg, gate = results["run"], results["aggregates"], results["gate"]
    lines = [
        f"eval {run['mode']} | as of {run['as_of']} | {agg['cases']} cases | {run['seconds']:.1f}s"
        f" | commit {str(run['git'].get('commit') or '?')[:10]}{' (dirty)' if run['git'].get('dirty') else ''}",
        f"passed {agg['passed']}/{agg['cases']} ({_pct(agg['pass_rate'])})",
        "",
    ]
    for name in SHOWN_AGGREGATES:
        if agg.get(name) is not None:
            lines.append(f"  {name:<22} {agg[name]}")
    for name, value in agg.get("judged", {}).items():
        lines.append(f"  {name:<22} {value}  (judged; informational)")
    lines.append("")
    lines.append("answer modes: " + ", ".join(f"{k} {v}" for k, v in agg.get("answer_modes", {}).items()))
    lines.append("by priority: " + ", ".join(f"{k} {v['passed']}/{v['cases']}" for k, v in agg["by_priority"].items()))
    lines.append("by tag: " + ", ".join(f"{k} {v['passed']}/{v['cases']}" for k, v in agg["by_tag"].items()))
    by_id = {c["id"]: c for c in results["cases"]}
    if gate.get("knowledge"):
        lines += ["", f"THE HELP PAGE AND THE RULES DISAGREE: {len(gate['knowledge'])} (python -m bot check-rules)"]
        lines += [f"  - {line}" for line in gate["knowledge"]]
    blocks = [("REGRESSIONS (passed in the baseline)", gate["regressions"]), ("CRITICAL FAILURES", gate["critical"])]
    shown: set[str] = set()
    for title, ids in blocks:
        fresh = [cid for cid in ids if cid not in shown]
        if fresh:
            lines += ["", f"{title}: {len(fresh)}"]
            for cid in fresh:
                lines += _case_block(by_id[cid])
                shown.add(cid)
    others = [c for c in results["cases"] if not c["passed"] and c["id"] not in shown]
    if others:
        lines += ["", f"other failures: {len(others)}"]
        for c in others:
            lines += _case_block(c) if verbose or len(others) <= 30 else [f"  - {c['id']}: {', '.join(c['failed_checks'])}"]
    changed = [cid for cid in gate.get("changed", []) if cid not in shown and by_id[cid]["passed"]]
    if changed:
        lines += ["", f"changed answers that still pass: {len(changed)} (before/after in the report; "
                      "`python -m eval bless` records them)"]
        lines += [f"  - {cid}: {by_id[cid]['question'][:90]}" for cid in changed]
    if gate["fixed"]:
        lines += ["", f"fixed since the baseline: {', '.join(gate['fixed'])} (run `python -m eval bless` to record)"]
    if gate["below"]:
        lines += ["", "BELOW THRESHOLD:"] + [f"  - {b}" for b in gate["below"]]
    lines += ["", f"gate: {'PASS' if gate['passed'] else 'FAIL'}"
              + ("" if gate.get("baseline") else " (no baseline for this mode: run `python -m eval bless`)")]
    return "\n".join(lines)


def _case_block(case: dict[str, Any]) -> list[str]:
    """Return the lines describing one failing case."""
    head = f"  - {case['id']} [{case['priority']}] ({case['file']}): {case['question'][:90]}"
    return [head] + [f"      {line}" for line in failure_lines(case)]


def _pct(value: float | None) -> str:
    """Return a share as a percentage."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def junit_xml(results: dict[str, Any]) -> str:
    """Return JUnit XML: one test case per eval case, failures carrying every failed check."""
    cases = results["cases"]
    failures = sum(1 for c in cases if not c["passed"] and not c.get("error"))
    errors = sum(1 for c in cases if c.get("error"))
    seconds = results["run"]["seconds"]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites tests="{len(cases)}" failures="{failures}" errors="{errors}" time="{seconds:.3f}">',
           f'<testsuite name={quoteattr("eval-" + results["run"]["mode"])} tests="{len(cases)}" failures="{failures}" '
           f'errors="{errors}" time="{seconds:.3f}">']
    for c in cases:
        t = sum(turn["seconds"] for turn in c["turns"])
        attrs = f'classname={quoteattr("eval." + c["file"].rsplit(".", 1)[0])} name={quoteattr(c["id"])} time="{t:.3f}"'
        if c["passed"]:
            out.append(f"<testcase {attrs}/>")
            continue
        body = escape("\n".join(failure_lines(c)))
        tag = "error" if c.get("error") else "failure"
        message = quoteattr(", ".join(c["failed_checks"]) + (" [critical]" if c["priority"] == "critical" else ""))
        out.append(f"<testcase {attrs}><{tag} message={message}>{body}</{tag}></testcase>")
    out += ["</testsuite>", "</testsuites>"]
    return "\n".join(out) + "\n"


def write_junit(path: Path, results: dict[str, Any]) -> Path:
    """Write the JUnit file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(results), encoding="utf-8")
    return path
