"""Print offline answer latency, and LLM-mode tokens, model calls and time to first token against a local stub,
side by side with a naive top-3 RAG prompt on the same questions.

    .venv/bin/python bench/answer.py            # the shipped help center
    .venv/bin/python bench/answer.py --corpus   # with the multi-page test corpus indexed too, and its questions

Targets: offline answer p50 <= 20 ms and p95 <= 60 ms; a new question's answer <= 1.5x one query embedding.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.service import make_bot  # noqa: E402
from bot.settings import ROOT, get_settings  # noqa: E402
from bot.store import Store, build_index  # noqa: E402
from bot.tokens import count_tokens  # noqa: E402
from tests.openai_stub import OpenAIStub, text, tool_call  # noqa: E402

TODAY = date(2026, 11, 24)
DOCS = ["why are my credits dropping?", "how do I get the free video model in Agent 2.0?",
        "Can I keep generating when I'm low on credits?", "How do I check my benefits?"]
ELIGIBILITY_WITH_FACTS = ["I'm on Premium annual, joined 2026-03-03. Is Flux2 Pro unlimited?",
                          "Pro monthly since 2025-10-01: is Sora unlimited?"]
ELIGIBILITY_WITHOUT = ["Is Seedance 2.0 unlimited?", "Does Kling use credits?"]
NAIVE = "Answer the customer's question from these help-center passages.\n\n{context}\n\nQuestion: {question}"


def _questions(corpus: bool = False) -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "retrieval_questions.yaml").read_text(encoding="utf-8"))
    extra = []
    if corpus:
        from bench.corpus import questions

        extra = [q.text for q in questions()]
    return [q["q"] for q in data["questions"]] + DOCS + ELIGIBILITY_WITH_FACTS + ELIGIBILITY_WITHOUT + extra


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def main() -> None:
    """Run every question offline, then the LLM sample against a stub, and compare with a naive RAG prompt."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="store_true", help="index the multi-page test corpus too and ask its questions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(data_dir=Path(tmp) / "var")
        if args.corpus:
            from bench.corpus import pages_folder

            settings = settings.model_copy(update={"pages_dir": pages_folder(Path(tmp) / "pages")})
        build_index(settings, Store(settings))
        bot = make_bot(settings, today=lambda: TODAY)
        chunks = len(bot.retriever.current().ids)
        questions = _questions(args.corpus)
        print(f"index: {chunks} chunks ({'shipped pages and the multi-page test corpus' if args.corpus else 'shipped pages'}); "
              f"{len(questions)} questions")
        bot.ask(questions[0])
        embed = []
        for q in questions:
            t = time.perf_counter()
            bot.retriever.store.embedding.embed_query([q])
            embed.append((time.perf_counter() - t) * 1000)
        # The eval's customer messages, in order, through a fresh query cache: how often a question repeats.
        from eval.schema import load_cases

        bot.retriever.vectors = type(bot.retriever.vectors)(bot.retriever.vectors.size)
        cases, _ = load_cases()
        for loaded in cases:
            for turn in loaded.case.turns:
                bot.retriever.search(turn.text)
        stats = bot.retriever.vectors.stats()
        print(f"query-embedding cache over the eval's {stats['hits'] + stats['misses']} customer messages: "
              f"hit rate {stats['hit_rate']:.0%} ({stats['hits']} hits)")
        bot.retriever.vectors = type(bot.retriever.vectors)(bot.retriever.vectors.size)
        cold, warm = [], []
        for round_ in range(3):
            for q in questions:
                t = time.perf_counter()
                bot.ask(q)
                (warm if round_ else cold).append((time.perf_counter() - t) * 1000)
        times = cold + warm
        print(f"offline answer: n={len(times)} p50 {statistics.median(times):.1f} ms, p95 {_pct(times, 0.95):.1f} ms "
              f"(targets 20 / 60 ms); "
              f"new questions p50 {statistics.median(cold):.1f} ms, repeated (vector cached) p50 "
              f"{statistics.median(warm):.1f} ms; one query embedding p50 {statistics.median(embed):.1f} ms "
              f"(new question answer/embedding {statistics.median(cold) / max(statistics.median(embed), 0.01):.1f}x)")

        def responder(req: dict) -> object:
            last = req["messages"][-1]
            if last["role"] == "tool":
                return text("Here is what the rules say [1]. Chatting with the agent still uses credits.")
            if req.get("tools") and any(w in last["content"].lower() for w in ("seedance", "kling")):
                return tool_call("check_unlimited_eligibility", {"model": last["content"]})
            return text("Chatting with the agent uses credits [1]. Agent 1.0 keeps unlimited generation working. "
                        "Check My Credits for your benefits.")

        with OpenAIStub(responder=responder) as stub:
            llm = make_bot(settings.model_copy(update={"openai_base_url": stub.base_url, "openai_api_key": SecretStr("bench")}),
                           today=lambda: TODAY)
            rows = []
            for kind, qs in (("docs", DOCS), ("eligibility, facts given", ELIGIBILITY_WITH_FACTS),
                             ("eligibility, no facts", ELIGIBILITY_WITHOUT)):
                for q in qs:
                    before = len(stub.requests)
                    started = time.perf_counter()
                    first = None
                    for event in llm.stream(q):
                        if event.type == "token" and first is None:
                            first = time.perf_counter() - started
                    sent = sum(count_tokens("".join(m.get("content") or "" for m in r["messages"]) + json.dumps(r.get("tools", [])))
                               for r in stub.requests[before:])
                    hits = bot.retriever.search(q, k=3)
                    naive = count_tokens(NAIVE.format(context="\n\n".join(h.text for h in hits), question=q))
                    rows.append((kind, q, len(stub.requests) - before, sent, naive, (first or 0) * 1000))
            for kind in dict.fromkeys(r[0] for r in rows):
                part = [r for r in rows if r[0] == kind]
                print(f"LLM mode, {kind}: model calls per turn {sorted({r[2] for r in part})}, "
                      f"prompt tokens per turn median {statistics.median(r[3] for r in part):.0f} "
                      f"vs naive top-3 RAG {statistics.median(r[4] for r in part):.0f}, "
                      f"time to first checked sentence p50 {statistics.median(r[5] for r in part):.0f} ms")
            for r in rows:
                print(f"  {r[0]:<24} {r[3]:>4} vs naive {r[4]:>4}  {r[1]}")
            print(f"LLM mode, all: prompt tokens per turn median {statistics.median(r[3] for r in rows):.0f} "
                  f"vs naive {statistics.median(r[4] for r in rows):.0f} (target: not more than naive)")


if __name__ == "__main__":
    main()
