"""Print hit@1, hit@3 and MRR of hybrid search on eval/retrieval_questions.yaml, overall and by language."""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from bot.retrieval import Glossary, Retriever
from bot.settings import ROOT, get_settings
from bot.store import Store, build_index


def main() -> None:
    """Run every question through search and print the figures."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=ROOT / "eval" / "retrieval_questions.yaml")
    parser.add_argument("-v", "--verbose", action="store_true", help="list misses")
    args = parser.parse_args()
    data = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    settings = get_settings()
    store = Store(settings)
    build_index(settings, store)
    retriever = Retriever(store, Glossary.load(settings.glossary_file))
    rows = []
    for q in data["questions"]:
        expected = {f"{data['page']}#{a}" for a in q["expected"]}
        hits = retriever.search(q["q"], k=5)
        ranks = [i for i, h in enumerate(hits, 1) if h.section_id in expected]
        rank = ranks[0] if ranks else None
        rows.append((q, rank, hits))
        if args.verbose and (rank is None or rank > 1):
            print(f"rank {rank}: {q['id']}: {q['q']}\n   got: {[h.section_id.split('#')[-1] for h in hits[:3]]}")
    for lang in ("all", "en", "ko"):
        sel = [r for r in rows if lang == "all" or r[0]["lang"] == lang]
        if not sel:
            continue
        hit1 = sum(1 for _, r, _ in sel if r == 1) / len(sel)
        hit3 = sum(1 for _, r, _ in sel if r and r <= 3) / len(sel)
        mrr = statistics.fmean(1 / r if r else 0.0 for _, r, _ in sel)
        print(f"{lang:>3}: n={len(sel):3d}  hit@1={hit1:.3f}  hit@3={hit3:.3f}  MRR={mrr:.3f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.1f}s)")
