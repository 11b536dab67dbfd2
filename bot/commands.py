"""Core sub-commands: index, sync, search, settings."""
from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from bot.settings import Settings, get_settings

if TYPE_CHECKING:
    from bot.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    """Add the core sub-commands."""
    p = sub.add_parser("index", help="build or update the help-center index (embeds only changed chunks)")
    p.add_argument("--rebuild", action="store_true", help="embed everything again, ignoring what is stored (after damage)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("sync", help="pull the published help center (llms.txt, DOCS_BASE_URL) and re-index")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("search", help="hybrid search of the help center")
    p.add_argument("query", help="a customer question")
    p.add_argument("-k", type=int, default=None, help="number of sections (default: SEARCH_TOP_K)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=cmd_search)

    register_answering(sub)

    p = sub.add_parser("check-docs", help="list where help pages contradict each other (and twins that are missing or behind)")
    p.add_argument("--pages", default=None, help="help-center folder (default: the configured one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_check_docs)

    p = sub.add_parser("settings", help="list settings with their defaults")
    p.add_argument("--markdown", action="store_true", help="print the README table")
    p.set_defaults(func=cmd_settings)


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index and print what changed."""
    from bot.store import Store, build_index, open_store

    settings = get_settings()
    store = open_store(settings, repair=True) if args.rebuild else Store(settings)
    report = build_index(settings, store, fresh=args.rebuild)
    _save_search_index(settings, store)
    data = {**report.__dict__, "seconds": round(report.seconds, 3)}
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(
            f"indexed {report.pages} page(s), {report.chunks} chunks: embedded {report.embedded}, "
            f"unchanged {report.unchanged}, removed {report.removed} "
            f"(generation {report.generation}, {report.seconds:.2f}s)"
        )
    return 0


def _save_search_index(settings: Settings, store: Store) -> None:
    """Build the new generation's in-memory search index once and save it, so app servers start by reading it."""
    from bot.retrieval import Glossary, Retriever
    from bot.segments import SearchUnavailable

    try:
        Retriever(store, Glossary.load(settings.glossary_file)).load()
    except SearchUnavailable as err:
        print(f"note: the search index was not saved for start-up ({err.message})", file=sys.stderr)


def cmd_sync(args: argparse.Namespace) -> int:
    """Pull the published help center, apply what changed when the run is healthy, and re-index."""
    from bot.sync import sync_site

    settings = get_settings()
    result = sync_site(settings, dry_run=args.dry_run)
    if not args.dry_run and result.exit_code == 0:
        from bot.store import Store

        _save_search_index(settings, Store(settings))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(result.text())
    return result.exit_code


def cmd_search(args: argparse.Namespace) -> int:
    """Print the ranked sections for a question."""
    from bot.retrieval import Glossary, Retriever
    from bot.store import open_store

    settings = get_settings()
    retriever = Retriever(open_store(settings), Glossary.load(settings.glossary_file))
    hits = retriever.search(args.query, k=args.k or settings.search_top_k)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. [{h.score:.4f}] {h.section or h.page_title}\n   {h.url}")
        print("   " + h.text.replace("\n", "\n   ")[:600])
    return 0


def cmd_check_docs(args: argparse.Namespace) -> int:
    """Print where the help pages disagree with each other; exit 1 when any do."""
    from pathlib import Path

    from bot.docs_check import run

    settings = get_settings()
    report = run(settings.rules_file, Path(args.pages) if args.pages else settings.pages_path, settings.docs_base_url)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.text())
    return 0 if report.ok else 1


def settings_table() -> str:
    """Return the markdown table of environment variables and defaults."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, f in Settings.model_fields.items():
        default = f.get_default(call_default_factory=True)
        shown = "(unset)" if default is None else json.dumps(default, ensure_ascii=False) if isinstance(default, dict) else str(default)
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


def register_answering(sub: argparse._SubParsersAction) -> None:
    """Add ask and chat."""
    p = sub.add_parser("ask", help="answer one customer question")
    p.add_argument("question", help="the customer's message")
    _profile_args(p)
    p.add_argument("--session", default=None, help="session id to continue a conversation")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="an interactive conversation in the terminal")
    _profile_args(p)
    p.add_argument("--session", default=None, help="session id to continue a conversation")
    p.set_defaults(func=cmd_chat)


def _profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", default=None, help="Plus, Premium, Max, Pro or Business")
    p.add_argument("--billing", default=None, help="monthly or annual")
    p.add_argument("--signup-date", default=None, help="YYYY-MM-DD")


def _profile(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bot.answer.facts import parse_profile_date
    from bot.errors import InputError
    from bot.types import Profile

    try:
        signup = parse_profile_date(args.signup_date)
    except ValueError as err:
        raise InputError(f"--signup-date must be a real date written YYYY-MM-DD ({err})") from err
    if args.plan or args.billing or signup:
        # Unknown plan or billing names are refused by the rules engine with the valid choices.
        from bot.eligibility import Engine

        engine = Engine.from_file(get_settings().rules_file)
        plan = engine.catalog.resolve_plan(args.plan) if args.plan else None
        billing = engine.catalog.resolve_billing(args.billing) if args.billing else None
        return Profile(plan=plan, billing=billing, signup_date=signup)
    return None


def _print_answer(answer) -> None:  # type: ignore[no-untyped-def]
    print(answer.answer)
    if answer.sources:
        print("\nSources:")
        for n, s in enumerate(answer.sources, 1):
            print(f"  [{n}] {s.section} - {s.url}")


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question (offline unless a model is configured)."""
    from bot.service import check_message, make_bot

    message = check_message(args.question)
    profile = _profile(args)
    answer = make_bot(ensure_index=True).ask(message, session_id=args.session, profile=profile)
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        _print_answer(answer)
        print(f"\n(session {answer.session_id}, {answer.mode}, route {answer.route})")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Hold a conversation until an empty line or end of input."""
    from bot.errors import InputError
    from bot.service import make_bot

    bot = make_bot(ensure_index=True)
    profile = _profile(args)
    session = args.session
    print(f"Carat support ({bot.mode} mode). Ask about credits, plans and models; an empty line quits.")
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if not line.strip():
            break
        try:
            answer = bot.ask(line, session_id=session, profile=profile)
        except InputError as err:
            print(f"error: {err.message}")
            continue
        session = answer.session_id
        _print_answer(answer)
        print()
    return 0
