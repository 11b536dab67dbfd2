"""Print offline answer latency (p50/p95) and LLM-mode prompt tokens and model calls per turn (against the stub)."""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from pydantic import SecretStr

from bot.service import make_bot
from bot.settings import ROOT, get_settings
from bot.store import Store, build_index

sys.path.insert(0, str(ROOT))
from tests.openai_stub import OpenAIStub, text, tool_call  # noqa: E402

TODAY = date(2026, 11, 24)


def _questions() -> list[str]:
    data = yaml.safe_load((ROOT / "eval" / "retrieval_questions.yaml").read_text(encoding="utf-8"))
    extra = ["I'm on Premium annual, joined 2026-03-03. Is Flux2 Pro unlimited?", "Is Seedream 4.0 unlimited for me?",
             "what is unlimited for me? Plus monthly since 2026-01-10", "I want a refund", "What's the weather?"]
    return [q["q"] for q in data["questions"]] + extra


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


def main() -> None:
    """Run every question offline, then a sample through LLM mode against a local stub."""
    from bot.threads import limit_native_threads

    limit_native_threads()  # as every entry point: one native thread per worker
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(data_dir=Path(tmp) / "var")
        build_index(settings, Store(settings))
        bot = make_bot(settings, today=lambda: TODAY)
        questions = _questions()
        bot.ask(questions[0])
        times = []
        for _ in range(3):
            for q in questions:
                t = time.perf_counter()
                bot.ask(q)
                times.append((time.perf_counter() - t) * 1000)
        print(f"offline answer: n={len(times)} p50 {statistics.median(times):.1f} ms, p95 {_pct(times, 0.95):.1f} ms "
              "(targets p50 <= 30 ms, p95 <= 100 ms)")

        def responder(req: dict) -> object:
            last = req["messages"][-1]
            if last["role"] == "tool":
                return text("Here is what the rules say [1].")
            if any(w in last["content"].lower() for w in ("seedream", "flux", "sora", "kling", "시드림")):
                return tool_call("check_unlimited_eligibility", {"model": last["content"]})
            return text("Chatting with the agent uses credits [1].")

        with OpenAIStub(responder=responder) as stub:
            llm_settings = settings.model_copy(update={"openai_base_url": stub.base_url,
                                                       "openai_api_key": SecretStr("bench")})
            llm_bot = make_bot(llm_settings, today=lambda: TODAY)
            calls, prompts = [], []
            for q in questions:
                before = len(stub.requests)
                a = llm_bot.ask(q)
                calls.append(a.usage.model_calls)
                from bot.tokens import count_tokens
                import json

                for req in stub.requests[before:]:
                    prompts.append(count_tokens("".join(m.get("content") or "" for m in req["messages"])
                                                + json.dumps(req.get("tools", []))))
            print(f"LLM mode (stub): median prompt tokens per model call {statistics.median(prompts):.0f} "
                  f"(max {max(prompts)}; target median <= 1500), model calls per turn: "
                  f"{dict(sorted({c: calls.count(c) for c in set(calls)}.items()))}")


if __name__ == "__main__":
    main()
