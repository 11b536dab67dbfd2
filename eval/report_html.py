"""A self-contained HTML report (inline CSS and SVG, nothing fetched) a docs writer can open offline."""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from eval.advice import group_of, next_step, word_diff
from eval.report_text import SHOWN_AGGREGATES

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e7;padding-bottom:4px}
.meta{color:#5b6475;font-size:12px}.pill{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.pass{background:#1f8a4c}.fail{background:#c62f2f}.warn{background:#b7791f}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
td,th{border:1px solid #e2e5ea;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#eef1f5}details{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:6px 0;padding:6px 10px}
details.failed{border-left:4px solid #c62f2f}details.regression{border-left:6px solid #7a0f0f;background:#fff6f6}
details.passed{border-left:4px solid #1f8a4c}summary{cursor:pointer;font-weight:600}
pre{white-space:pre-wrap;word-break:break-word;background:#f2f4f7;padding:8px;border-radius:4px;margin:4px 0;font-size:12.5px}
.ok{color:#1f8a4c;font-weight:600}.no{color:#c62f2f;font-weight:600}.small{font-size:12px;color:#5b6475}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}.charts figure{margin:0;background:#fff;border:1px solid #dde1e7;padding:8px}
.answer{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:6px 12px;margin:4px 0}.answer p{margin:.4em 0}
.diff{white-space:pre-wrap;background:#fff;border:1px solid #e2e5ea;border-radius:6px;padding:8px;font-size:13px}
del{background:#fde2e2;color:#8a1c1c}ins{background:#dcf5e3;color:#15603a;text-decoration:none}
.todo{background:#fff8e6;border:1px solid #f0d48a;border-radius:6px;padding:6px 10px;margin:6px 0;font-size:13px}
h3{font-size:15px;margin:18px 0 6px}
"""


def customer_view(markdown_text: str) -> str:
    """Return an answer as the customer's chat shows it: markdown rendered, raw HTML escaped, then sanitised."""
    from markdown_it import MarkdownIt
    import nh3

    html = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table").render(markdown_text or "")
    return nh3.clean(html, tags={"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "table", "thead",
                                 "tbody", "tr", "th", "td", "blockquote"}, url_schemes={"http", "https", "mailto"})


def diff_html(before: str, after: str) -> str:
    """Return a word diff: removed words struck through, added words highlighted."""
    parts = []
    for op, text in word_diff(before, after):
        parts.append(f"<del>{_e(text)}</del>" if op == "-" else f"<ins>{_e(text)}</ins>" if op == "+" else _e(text))
    return f"<div class='diff'>{''.join(parts)}</div>"


def _e(value: Any) -> str:
    """Escape any value for HTML text or attributes."""
    return escape("" if value is None else str(value), quote=True)


def bar_chart(title: str, rows: dict[str, dict[str, Any]]) -> str:
    """Return an inline SVG of horizontal pass-rate bars, one per group."""
    width, label_w, bar_w, row_h = 500, 150, 230, 20
    height = 28 + row_h * len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="600">{_e(title)}</text>']
    for n, (name, row) in enumerate(rows.items()):
        y = 24 + n * row_h
        rate = row["pass_rate"] or 0.0
        color = "#1f8a4c" if rate >= 0.999 else "#b7791f" if rate >= 0.8 else "#c62f2f"
        parts += [
            f'<text x="{label_w - 6}" y="{y + 13}" font-size="12" text-anchor="end">{_e(name[:22])}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w}" height="{row_h - 6}" fill="#e6e9ee"/>',
            f'<rect x="{label_w}" y="{y + 2}" width="{bar_w * rate:.1f}" height="{row_h - 6}" fill="{color}"/>',
            f'<text x="{label_w + bar_w + 6}" y="{y + 13}" font-size="12">{row["passed"]}/{row["cases"]} ({rate * 100:.0f}%)</text>',
        ]
    return "".join(parts) + "</svg>"


def histogram(title: str, values_ms: list[float], bins: int = 12) -> str:
    """Return an inline SVG histogram of turn latencies."""
    width, height, pad = 460, 200, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="600">{_e(title)}</text>']
    if not values_ms:
        return "".join(parts) + '<text x="0" y="40" font-size="12">no turns</text></svg>'
    top = max(values_ms) or 1.0
    step = top / bins
    counts = [0] * bins
    for v in values_ms:
        counts[min(int(v / step), bins - 1)] += 1
    peak = max(counts)
    plot_w, plot_h = width - 2 * pad, height - 2 * pad - 10
    bw = plot_w / bins
    for n, count in enumerate(counts):
        h = plot_h * count / peak
        x, y = pad + n * bw, height - pad - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" fill="#3b6fd1">'
                     f'<title>{n * step:.0f}-{(n + 1) * step:.0f} ms: {count}</title></rect>')
        if count:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{count}</text>')
    parts += [f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#5b6475"/>',
              f'<text x="{pad}" y="{height - 10}" font-size="11">0 ms</text>',
              f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">{top:.0f} ms</text>']
    return "".join(parts) + "</svg>"


def _checks_table(case: dict[str, Any]) -> str:
    """Return the table of every check of a case."""
    rows = ["<table><tr><th>check</th><th>result</th><th>value</th><th>why</th></tr>"]
    for s in case["scores"] + case.get("judged", []):
        mark = '<span class="ok">pass</span>' if s["passed"] else '<span class="no">FAIL</span>'
        rows.append(f"<tr><td>{_e(s['name'])}</td><td>{mark}</td><td>{_e(s['value'])}</td><td>{_e(s['reason'])}</td></tr>")
    if case.get("error"):
        rows.append(f'<tr><td>error</td><td><span class="no">FAIL</span></td><td></td><td>{_e(case["error"])}</td></tr>')
    return "".join(rows) + "</table>"


def _case_html(case: dict[str, Any], regression: bool) -> str:
    """Return one case as a collapsible block: conversation as the customer saw it, what to do, retrieval, checks."""
    cls = "regression" if regression else "passed" if case["passed"] else "failed"
    flag = "REGRESSION · " if regression else "" if case["passed"] else "FAILED · "
    opened = "" if case["passed"] else " open"
    final = case.get("final") or {}
    out = [f'<details class="{cls}"{opened} id="case-{_e(case["id"])}"><summary>{_e(flag)}{_e(case["question"][:110])} '
           f'<span class="small">{_e(case["id"])} [{_e(case["priority"])}] {_e(", ".join(case["tags"]))} · {_e(case["file"])}</span></summary>']
    failed = [s["name"] for s in case["scores"] if not s["passed"]] + (["error"] if case.get("error") else [])
    if failed:
        out.append("<div class='todo'><b>What to do:</b><ul>" + "".join(
            f"<li><b>{_e(name)}</b>: {_e(next_step(name))}</li>" for name in dict.fromkeys(failed)) + "</ul></div>")
    for turn in case["turns"]:
        out.append(f"<p><b>Customer:</b> {_e(turn['question'])}</p><div class='answer'>{customer_view(turn['answer'])}</div>"
                   f'<p class="small">route {_e(turn["route"])} · {turn["seconds"] * 1000:.0f} ms · {turn["tokens"]} tokens</p>')
    if case.get("baseline"):
        out.append("<p class='small'>Changed since the baseline (struck: before, highlighted: now):</p>"
                   + diff_html(case["baseline"].get("answer") or "", final.get("answer") or ""))
    if final.get("corrected") or final.get("mode") not in (None, "offline", "llm"):
        out.append(f"<p class='small'>answer mode {_e(final.get('mode'))}"
                   f"{' · the grounding check replaced the model text' if final.get('corrected') else ''}</p>")
    if not case["turns"]:
        out.append(f"<p><b>Customer:</b> {_e(case['question'])}</p>")
    retrieved = final.get("retrieved") or []
    if retrieved:
        out.append("<table><tr><th>#</th><th>retrieved section</th><th>score</th><th>dense</th></tr>")
        for n, r in enumerate(retrieved, 1):
            out.append(f"<tr><td>{n}</td><td>{_e(r.get('section'))}<br><span class='small'>{_e(r.get('section_id'))}</span></td>"
                       f"<td>{_e(round(float(r.get('score') or 0), 4))}</td><td>{_e(round(float(r.get('dense') or 0), 3))}</td></tr>")
        out.append("</table>")
    for call in final.get("tool_calls") or []:
        result = call.get("result") or {}
        out.append(f"<p><b>Tool call</b> {_e(call.get('name'))}: verdict <b>{_e(result.get('verdict'))}</b> "
                   f"({_e(result.get('rule_id'))})</p><pre>{_e(json.dumps(call.get('args'), ensure_ascii=False))}</pre>")
    sources = final.get("sources") or []
    if sources:
        out.append("<p class='small'>Cited: " + "; ".join(_e(s.get("section_id") or s.get("url")) for s in sources) + "</p>")
    out.append(_checks_table(case))
    return "".join(out) + "</details>"


def _bound(limit: dict[str, Any] | None, mode: str) -> str:
    """Return a threshold as text ('≥ 0.9'), or '' when none applies in this mode."""
    if not limit or (limit.get("modes") and mode not in limit["modes"]):
        return ""
    parts = [f"≥ {limit['min']}" if limit.get("min") is not None else "", f"≤ {limit['max']}" if limit.get("max") is not None else ""]
    return " ".join(p for p in parts if p)


def render_html(results: dict[str, Any]) -> str:
    """Return the whole report page."""
    run, agg, gate = results["run"], results["aggregates"], results["gate"]
    regressions = set(gate["regressions"])
    cases = sorted(results["cases"], key=lambda c: (c["id"] not in regressions, c["passed"], c["priority"] != "critical", c["id"]))
    status = '<span class="pill pass">GATE PASS</span>' if gate["passed"] else '<span class="pill fail">GATE FAIL</span>'
    head = (f"<h1>Carat support eval {status}</h1><p class='meta'>mode {_e(run['mode'])} · as of {_e(run['as_of'])} · "
            f"{agg['passed']}/{agg['cases']} cases passed · commit {_e(str(run['git'].get('commit') or '?')[:12])}"
            f"{' (uncommitted changes)' if run['git'].get('dirty') else ''} · started {_e(run['started'])}</p>")
    blockers = []
    if gate.get("knowledge"):
        blockers.append("<p><b>The help page and the rules disagree</b> (<code>python -m bot check-rules</code>; "
                        "<code>python -m bot check-docs</code> lists where pages disagree with each other):</p><ul>"
                        + "".join(f"<li>{_e(line)}</li>" for line in gate["knowledge"]) + "</ul>")
    if gate["regressions"]:
        blockers.append(f"<p><b>Regressions</b> (passed in the baseline, fail now): {_e(', '.join(gate['regressions']))}</p>")
    if gate["critical"]:
        blockers.append(f"<p><b>Critical cases failing</b>: {_e(', '.join(gate['critical']))}</p>")
    if gate["below"]:
        blockers.append("<p><b>Below threshold</b>: " + _e("; ".join(gate["below"])) + "</p>")
    if gate["fixed"]:
        blockers.append(f"<p class='small'>Fixed since the baseline: {_e(', '.join(gate['fixed']))}</p>")
    bounds = results.get("thresholds", {})
    figures = "".join(f"<tr><td>{_e(n)}</td><td>{_e(agg.get(n))}</td><td>{_e(_bound(bounds.get(n), run['mode']))}</td></tr>"
                      for n in SHOWN_AGGREGATES if agg.get(n) is not None)
    figures += "".join(f"<tr><td>{_e(n)} (judged, informational)</td><td>{_e(v)}</td><td></td></tr>"
                       for n, v in agg.get("judged", {}).items())
    latencies = [t["seconds"] * 1000 for c in results["cases"] for t in c["turns"]]
    charts = (f"<div class='charts'><figure>{bar_chart('Pass rate by priority', agg['by_priority'])}</figure>"
              f"<figure>{bar_chart('Pass rate by tag', agg['by_tag'])}</figure>"
              f"<figure>{histogram('Latency per turn (ms)', latencies)}</figure></div>")
    hashes = "".join(f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>" for k, v in run["hashes"].items())
    by_id = {c["id"]: c for c in results["cases"]}
    changed = [by_id[cid] for cid in gate.get("changed", []) if cid in by_id]
    changes = "".join(
        f"<details open><summary>{_e(c['question'][:110])} <span class='small'>{_e(c['id'])} · "
        f"{'passes' if c['passed'] else 'FAILS'} now, {'passed' if (c.get('baseline') or {}).get('passed') else 'failed'} before</span></summary>"
        f"{diff_html((c.get('baseline') or {}).get('answer') or '', (c.get('final') or {}).get('answer') or '')}</details>"
        for c in changed) or "<p>No answer changed since the baseline.</p>"
    titles = results.get("section_titles", {})
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        groups.setdefault(group_of(c, titles), []).append(c)
    grouped = "".join(
        f"<h3>{_e(name)} <span class='small'>{sum(c['passed'] for c in items)}/{len(items)} pass</span></h3>"
        + "".join(_case_html(c, c["id"] in regressions) for c in items)
        for name, items in sorted(groups.items(), key=lambda g: (all(c["passed"] for c in g[1]), g[0])))
    body = [head, "<h2>What blocks publishing</h2>", "".join(blockers) or "<p>Nothing: every gate check passed.</p>",
            f"<h2>Changed answers ({len(changed)})</h2><p class='small'>Every answer that differs from the baseline, "
            "passing or not: read them before you publish.</p>", changes,
            "<h2>Figures</h2>", charts, f"<table><tr><th>figure</th><th>value</th><th>bound</th></tr>{figures}</table>",
            "<h2>Cases by page section</h2><p class='small'>Sections with failures first; in each, regressions, then "
            "failures (critical first), then passes.</p>", grouped,
            f"<h2>Inputs</h2><table>{hashes}</table>"]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Carat support eval</title>"
            f"<style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")


def write_html(path: Path, results: dict[str, Any]) -> Path:
    """Write the report page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(results), encoding="utf-8")
    return path
