"""Core sub-commands: index, search, settings."""
from __future__ import annotations

import argparse
import json

from bot.settings import Settings, get_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the core sub-commands."""
    p = sub.add_parser("index", help="build or update the help-center index (embeds only changed chunks)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="hybrid search of the help center")
    p.add_argument("query", help="a customer question")
    p.add_argument("-k", type=int, default=None, help="number of sections (default: SEARCH_TOP_K)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("settings", help="list settings with their defaults")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    p.set_defaults(func=cmd_settings)


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed."""
    from bot.store import build_index

    report = build_index(get_settings())
    data = {k: v for k, v in report.__dict__.items() if k != "sections"}
    data["seconds"] = round(report.seconds, 3)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(
            f"indexed {report.pages} page(s), {report.chunks} chunks: embedded {report.embedded}, "
            f"unchanged {report.unchanged}, removed {report.removed} "
            f"(generation {report.generation}, {report.seconds:.2f}s)"
        )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Print the ranked sections for a question."""
    from bot.retrieval import Glossary, Retriever
    from bot.store import Store

    settings = get_settings()
    hits = Retriever(Store(settings), Glossary.load(settings.glossary_file)).search(args.query, k=args.k or settings.search_top_k)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. [{h.score:.4f}] {h.section or h.page_title}\n   {h.url}")
        print("   " + h.text.replace("\n", "\n   ")[:600])
    return 0


def settings_table() -> str:
    """Return the markdown table of environment variables and defaults."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, f in Settings.model_fields.items():
        default = f.default
        shown = "(unset)" if default is None else str(default)
        if hasattr(default, "relative_to"):
            from bot.settings import ROOT

            shown = str(default.relative_to(ROOT)) if str(default).startswith(str(ROOT)) else str(default)
        lines.append(f"| `{name.upper()}` | `{shown}` | {f.description} |")
    return "\n".join(lines)


def cmd_settings(args: argparse.Namespace) -> int:
    """Print settings as a table (README) or the current values (secrets hidden)."""
    if args.markdown:
        print(settings_table())
        return 0
    for name, value in get_settings().model_dump().items():
        shown = "***" if "key" in name and value else value
        print(f"{name.upper()}={shown}")
    return 0
