"""Command-line face of the engine: `eligibility` and `check-rules` sub-commands."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from bot.errors import InputError
from bot.eligibility.catalog import Catalog
from bot.eligibility.verdict import Verdict

LABELS = {"unlimited": "UNLIMITED", "uses_credits": "USES CREDITS", "unknown": "UNKNOWN"}


def register(subparsers: Any) -> None:
    """Add the eligibility and check-rules sub-commands."""
    p = subparsers.add_parser(
        "eligibility",
        help="Is a model unlimited for a customer, or does it use credits?",
        description="Answer from the rules file; --profile lists every model for one customer.",
    )
    p.add_argument("--model", help="model name as a customer writes it, e.g. 'nanobanana pro 4k'")
    p.add_argument("--variant", help="variant, e.g. 1K, 2K, 4K, Low, Medium")
    # Plan and billing are checked by the engine (not argparse choices) so errors come back as JSON.
    p.add_argument("--plan", help="Plus, Premium, Max, Pro or Business")
    p.add_argument("--billing", help="monthly or annual")
    p.add_argument("--signup-date", help="signup day, YYYY-MM-DD")
    p.add_argument("--as-of", help="day to answer for, YYYY-MM-DD (default: today)")
    p.add_argument("--profile", action="store_true", help="list every model's verdict for this plan, billing and signup date")
    p.add_argument("--rules", type=Path, help="rules file (default: the configured one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_eligibility)

    c = subparsers.add_parser("check-rules", help="Check the eligibility rules against the help-center pages.")
    c.add_argument("--rules", type=Path, help="rules file (default: the configured one)")
    c.add_argument("--pages", type=Path, help="help-center folder (default: the configured one)")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=run_check_rules)


def run_eligibility(args: argparse.Namespace) -> int:
    """Print one verdict, or the profile table."""
    from bot.eligibility.engine import Engine
    from bot.settings import get_settings

    as_of = args.as_of or date.today().isoformat()  # the only place a clock is read
    if not args.profile and not args.model:
        raise InputError("give --model (or --profile for every model)")
    engine = Engine.from_file(args.rules or get_settings().rules_file)
    if args.profile:
        rows = engine.profile_table(args.plan, args.billing, args.signup_date, as_of=as_of)
        if args.json:
            _print_json({"profile": _profile_head(rows, as_of), "rows": [r.to_dict() for r in rows]})
        else:
            print(format_profile(rows, engine.catalog))
        return 0
    verdict = engine.evaluate(args.model, args.variant, args.plan, args.billing, args.signup_date, as_of=as_of)
    if args.json:
        _print_json(verdict.to_dict())
    else:
        print(format_verdict(verdict, engine.catalog))
    return 0


def run_check_rules(args: argparse.Namespace) -> int:
    """Cross-check rules and pages; exit 1 when anything is inconsistent."""
    from bot.eligibility.check import check_rules
    from bot.settings import get_settings

    settings = get_settings()
    report = check_rules(args.rules or settings.rules_file, args.pages or settings.pages_path, settings.docs_base_url)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(format_check(report))
    return 0 if report.ok else 1


def format_check(report: Any) -> str:
    """Return the check-rules report as text a writer reads: each problem with the page line and the rule line."""
    out = []
    for p in report.problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        out.append(f"PROBLEM {where}\n  {p.message}" + (f"\n  rules: {p.rule_file}:{p.rule_line}" if p.rule_file and p.rule_line else ""))
    for w in report.warnings:
        out.append(f"note {w.file}{':' + str(w.line) if w.line else ''}\n  {w.message}")
    status = "OK" if report.ok else f"FAILED ({len(report.problems)} problem{'s' * (len(report.problems) != 1)})"
    out.append(f"check-rules {status}: {report.rules} rules against {report.statements} statements "
               f"({report.rows} table rows) of {report.page or 'no page'}")
    return "\n".join(out)


def _profile_head(rows: list[Verdict], as_of: str) -> dict[str, Any]:
    """Return the canonical profile the table was made for."""
    first = rows[0].to_dict() if rows else {}
    return {k: first.get(k) for k in ("plan", "billing", "signup_date")} | {"as_of": first.get("as_of", as_of)}


def _print_json(data: Any) -> None:
    """Print JSON the same way as the rest of the CLI."""
    print(json.dumps(data, ensure_ascii=False, indent=2))


def format_verdict(v: Verdict, catalog: Catalog) -> str:
    """Return a verdict as readable text."""
    name = catalog.display(v.model.id, v.variant)
    lines = [f"{name}: {LABELS[v.verdict]}", f"  {v.reason}"]
    if v.expires_on:
        lines.append(f"  Benefit ends on: {v.expires_on.isoformat()}")
    if v.missing:
        lines.append(f"  Still needed: {', '.join(m.replace('_', ' ') for m in v.missing)}")
    lines += [f"  Note: {n}" for n in v.notes]
    lines.append(f"  Rule: {v.rule_id} ({v.source.section}, {v.source.url})")
    profile = ", ".join(f"{k} {getattr(v, k)}" for k in ("plan", "billing", "signup_date") if getattr(v, k) is not None)
    lines.append(f"  For: {profile + ', ' if profile else ''}as of {v.as_of.isoformat()}")
    return "\n".join(lines)


def format_profile(rows: list[Verdict], catalog: Catalog) -> str:
    """Return the profile table as aligned text, one row per model (or variant)."""
    if not rows:
        return "no models"
    head = rows[0]
    who = ", ".join(f"{k} {getattr(head, k)}" for k in ("plan", "billing", "signup_date") if getattr(head, k) is not None)
    out = [f"Eligibility for {who or 'an unknown profile'}, as of {head.as_of.isoformat()}"]
    table = [("Kind", "Model", "Verdict", "Until / needs")]
    for r in rows:
        name = catalog.display(r.model.id, r.variant)
        extra = r.expires_on.isoformat() if r.expires_on else ", ".join(r.missing)
        table.append((catalog.kinds.get(r.model.kind, r.model.kind), name, LABELS[r.verdict], extra))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(out)
