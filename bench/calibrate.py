"""Calibrate the answer policy's thresholds on the eval set and the multi-page corpus; print the figures.

    .venv/bin/python bench/calibrate.py            # current settings, per kind of question
    .venv/bin/python bench/calibrate.py --grid     # also try threshold combinations, best first

An answered question counts as right when the passage that leads is one that answers it; a question no page
answers counts as right when the bot says so (no passage, no verdict).
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import pages_folder, questions  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", action="store_true", help="try threshold combinations")
    parser.add_argument("--misses", action="store_true", help="list the questions the current settings get wrong")
    parser.add_argument("--data", type=Path, default=Path("var/calibrate"), help="index folder (kept between runs)")
    args = parser.parse_args()

    from bot.answer.policy import Action
    from bot.conversation import Conversation
    from bot.service import make_bot
    from bot.settings import get_settings

    pages = pages_folder(args.data / "pages")
    settings = get_settings(pages_dir=pages, data_dir=args.data, database_url="sqlite:///:memory:",
                            openai_api_key=None, openai_base_url=None)
    started = time.perf_counter()
    bot = make_bot(settings, today=lambda: date(2026, 11, 24), ensure_index=True)
    print(f"index ready in {time.perf_counter() - started:.1f}s")
    off = bot.offline
    from bot.twins import section_map
    from bot.mdx import load_pages

    twin_of = section_map(load_pages(pages, settings.docs_base_url))
    cases = []
    for q in questions():
        turn = off.prepare(q.text, Conversation("calibrate-" + "x" * 8), None)
        hits = off.search(turn)
        cases.append((q, turn, hits))

    def score(policy) -> dict[str, list[bool]]:  # type: ignore[no-untyped-def]
        out: dict[str, list[bool]] = {"answered": [], "paraphrase": [], "not_covered": []}
        for q, turn, hits in cases:
            d = policy.decide(turn, hits, off.retriever.vocabulary())
            if q.kind == "not_covered":
                ok = d.action in (Action.NOT_COVERED, Action.OFF_TOPIC, Action.REFUSE) or (d.action is Action.HANDOFF and not d.passages)
            else:
                lead = d.passages[0].hit.section_id if d.passages else ""
                ok = bool(lead) and (lead in q.sections or twin_of.get(lead, lead) in {twin_of.get(s, s) for s in q.sections})
            out[q.kind].append(ok)
        return out

    def show(result: dict[str, list[bool]]) -> str:
        return "  ".join(f"{k} {sum(v)}/{len(v)} ({100 * sum(v) / max(len(v), 1):.0f}%)" for k, v in result.items())

    current = score(off.policy)
    print("current settings:", show(current))
    shown = 0
    for q, turn, hits in cases:
        if q.kind != "not_covered":
            d = off.policy.decide(turn, hits, off.retriever.vocabulary())
            wanted = {twin_of.get(s, s) for s in q.sections}
            shown += any(twin_of.get(p.hit.section_id, p.hit.section_id) in wanted for p in d.passages)
    answerable = sum(1 for q, _, _ in cases if q.kind != "not_covered")
    print(f"an answering passage among those shown (lead or second): {shown}/{answerable} ({100 * shown / answerable:.0f}%)")
    by_lang: dict[str, list[bool]] = {}
    for (q, _, _), ok in zip(cases, [x for k in ("answered", "paraphrase", "not_covered") for x in current[k]]):
        by_lang.setdefault(f"{q.kind}/{q.lang}", []).append(ok)
    print("by language:", show(by_lang))
    if args.misses:
        flat = [x for k in ("answered", "paraphrase", "not_covered") for x in current[k]]
        ordered = [c for k in ("answered", "paraphrase", "not_covered") for c in cases if c[0].kind == k]
        for (q, turn, hits), ok in zip(ordered, flat):
            if not ok:
                d = off.policy.decide(turn, hits, off.retriever.vocabulary())
                lead = d.passages[0].hit.section_id if d.passages else "-"
                print(f"  miss [{q.kind}/{q.lang}] {q.text!r}: {d.action.name} lead {lead}; want {', '.join(q.sections) or 'not covered'}")
    if args.grid:
        from bot.answer.policy import Policy

        def policy(**update: float) -> Policy:
            return Policy(off.engine, off.cues, settings.model_copy(update=update), rarity=off.retriever.rarity, seen=off.retriever.seen,
                          english=off.retriever.glossary.english, pairs=off.retriever.glossary.pairs)

        def leads(p: Policy) -> int:
            right = 0
            for q, turn, hits in cases:
                if q.kind == "not_covered":
                    continue
                ranked = [r for r in p.rank(turn, hits) if r.hit.kind != "card"]
                lead = ranked[0].hit.section_id if ranked else ""
                right += twin_of.get(lead, lead) in {twin_of.get(s, s) for s in q.sections}
            return right

        weights = []
        for d, t, c in itertools.product((0.0, 0.5, 1.0, 2.0), (0.0, 0.25, 0.5, 1.0), (0.0, 0.3, 0.6, 1.0)):
            weights.append((leads(policy(rank_dense=d, rank_title=t, rank_coverage=c)), d, t, c))
        weights.sort(key=lambda w: -w[0])
        answered = sum(1 for q, _, _ in cases if q.kind != "not_covered")
        for right, d, t, c in weights[:5]:
            print(f"lead right {right}/{answered} with rank_dense {d} rank_title {t} rank_coverage {c}")
        _, d, t, c = weights[0]
        results = []
        for dense, cov, close, title in itertools.product((0.80, 0.82, 0.84), (0.3, 0.4, 0.5), (0.86, 0.87, 0.88, 0.9), (0.6, 0.7, 0.8)):
            r = score(policy(rank_dense=d, rank_title=t, rank_coverage=c, answer_min_dense=dense, answer_min_coverage=cov,
                             answer_close_dense=close, answer_min_title=title))
            results.append((sum(sum(v) for v in r.values()), dense, cov, close, title, r))
        for total, dense, cov, close, title, r in sorted(results, key=lambda t: -t[0])[:8]:
            print(f"min_dense {dense} min_coverage {cov} close_dense {close} min_title {title}: {show(r)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
