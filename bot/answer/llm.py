"""LLM mode: retrieval first, then an OpenAI-compatible chat model that calls the eligibility tool."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import openai
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from bot.answer.compose import hit_source, retrieved, verdict_source
from bot.answer.grounding import check_answer
from bot.answer.offline import OfflineAnswerer
from bot.answer.policy import Action, Decision
from bot.answer.turn import Turn, remember
from bot.templates import load_prompt
from bot.conversation import Conversation
from bot.eligibility import Engine, Verdict
from bot.errors import BotError
from bot.retrieval import Hit, Retriever, SearchUnavailable
from bot.settings import Settings
from bot.tokens import count_tokens, truncate_tokens
from bot.tools import make_eligibility_tool
from bot.types import Answer, Profile, Source, StreamEvent, Usage

log = logging.getLogger(__name__)
MAX_MODEL_CALLS = 3
LANGUAGE_NAMES = {"en": "English", "ko": "Korean (한국어)"}
CITATION = re.compile(r"\[(\d{1,2})\]")


class LLMAnswerer:
    """Answer with a chat model; every verdict comes from the tool and the text is checked before it is shown."""

    def __init__(self, settings: Settings, *, retriever: Retriever, engine: Engine, today: Callable[[], date],
                 offline: OfflineAnswerer | None = None, chat_model: Any | None = None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.engine = engine
        self.today = today
        self.offline = offline or OfflineAnswerer(retriever=retriever, engine=engine, today=today)
        self.tool = make_eligibility_tool(engine, today)
        self._chat = chat_model

    def model(self) -> Any:
        """Return the chat model with the tool bound (built on first use: no client at import)."""
        if self._chat is None:
            from langchain_openai import ChatOpenAI

            key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else "unused"
            self._chat = ChatOpenAI(
                model=self.settings.openai_model, api_key=key, base_url=self.settings.openai_base_url,
                timeout=self.settings.llm_timeout, max_retries=self.settings.llm_retries, temperature=0,
                stream_usage=True,
            )
        return self._chat.bind_tools([self.tool])

    def stream(self, message: str, conv: Conversation, profile: Profile | None) -> Iterator[StreamEvent]:
        """Yield model text as it arrives, then the checked final answer."""
        turn = self.offline.prepare(message, conv, profile)
        try:
            hits = self.offline.search(turn)
        except SearchUnavailable:
            # Verdicts need no index: the deterministic answer gives them, and says when search is down.
            yield from self._final(self.offline.without_search(turn, mode="degraded"))
            return
        decision = self.offline.decide(turn, hits)
        if decision.action not in (Action.DOCS, Action.VERDICT, Action.NOT_COVERED):
            # Nothing for a model to add (a date problem, a person, the profile table): the deterministic answer.
            yield from self._final(self.offline.respond(turn, decision, hits, mode="llm"))
            return
        used_hits = [r.hit for r in decision.passages] or [h for h in hits if h.dense >= self.settings.answer_min_dense][:3]
        context, used = self._context(used_hits)
        messages: list[BaseMessage] = [SystemMessage(self._system(turn, context)), *self._history(conv),
                                       HumanMessage(message)]
        usage = Usage()
        verdicts: list[Verdict] = []
        try:
            ai: AIMessage | None = None
            for _ in range(MAX_MODEL_CALLS):
                ai = None
                for chunk in self.model().stream(messages):
                    ai = chunk if ai is None else ai + chunk  # type: ignore[operator]
                    if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str) and chunk.content:
                        yield StreamEvent(type="token", text=chunk.content)
                if ai is None:
                    raise openai.APIError("the model returned nothing", request=None, body=None)  # type: ignore[arg-type]
                usage = _add_usage(usage, ai)
                if not ai.tool_calls:
                    break
                messages.append(ai)
                for call in ai.tool_calls:
                    result = self._run_tool(turn, call["args"], verdicts)
                    messages.append(ToolMessage(content=json.dumps(result, ensure_ascii=False), tool_call_id=call["id"]))
        except openai.OpenAIError as err:
            log.warning("model call failed (%s); answering offline", type(err).__name__)
            turn.tool_calls.clear()
            degraded = self.offline.respond(turn, decision, hits, mode="degraded")
            yield from self._final(degraded.model_copy(update={"usage": usage}))
            return
        text = _text(ai)
        evidence = "\n".join([*(h.text for h in used), message,
                              *(json.dumps(v.to_dict(), ensure_ascii=False) for v in verdicts)])
        urls = {u for h in used for u in re.findall(r"https?://[^\s)\]]+", h.text)} | {h.url for h in used}
        urls |= {v.source.url for v in verdicts} | set(self.engine.book.spec.links.values())
        problems = check_answer(text, verdicts=verdicts, evidence=evidence, urls=urls, sections=len(used),
                                engine=self.engine)
        if problems or not text.strip():
            log.warning("answer corrected: %s", "; ".join(p.detail for p in problems) or "empty answer")
            model_calls = list(turn.tool_calls)
            turn.tool_calls.clear()
            fixed = self.offline.respond(turn, decision, hits, mode="llm")
            yield from self._final(fixed.model_copy(update={"usage": usage, "corrected": True,
                                                           "tool_calls": fixed.tool_calls or model_calls}))
            return
        route = self._route(decision, verdicts)
        remember(turn, last_models=[(v.model.id, v.variant) for v in verdicts] or turn.state.last_models)
        answer = Answer(answer=text, route=route, sources=self._sources(text, used, verdicts), mode="llm",
                        tool_calls=turn.tool_calls, session_id=conv.id, usage=usage, language=turn.lang,
                        retrieved=retrieved(hits))
        yield StreamEvent(type="final", answer=answer)

    # --- pieces -------------------------------------------------------------------------------
    @staticmethod
    def _final(answer: Answer) -> Iterator[StreamEvent]:
        yield StreamEvent(type="token", text=answer.answer)
        yield StreamEvent(type="final", answer=answer)

    def _context(self, hits: list[Hit]) -> tuple[str, list[Hit]]:
        """Return numbered sections that fit the token budget, best first."""
        parts, used, budget = [], [], self.settings.context_tokens
        for h in hits:
            block = f"[{len(used) + 1}] {h.section or h.page_title} ({h.url})\n{h.text}"
            cost = count_tokens(block)
            if cost > budget:
                if not used:
                    parts.append(truncate_tokens(block, budget))
                    used.append(h)
                break
            parts.append(block)
            used.append(h)
            budget -= cost
        return ("\n\n".join(parts) or "(no section matched)"), used

    def _system(self, turn: Turn, context: str) -> str:
        p = turn.profile
        w = self.engine.wording("en")
        known = ", ".join(x for x in (w.plan(p.plan) if p.plan else None, w.billing(p.billing) if p.billing else None,
                                      f"joined {p.signup_date.isoformat()}" if p.signup_date else None) if x) or "nothing yet"
        return load_prompt("system.md", language=LANGUAGE_NAMES[turn.lang], today=self.today().isoformat(),
                           profile=known, context=context)

    def _history(self, conv: Conversation) -> list[BaseMessage]:
        """Return earlier turns, newest kept first, within the history token budget."""
        out: list[BaseMessage] = []
        budget = self.settings.history_tokens
        for t in reversed(conv.turns):
            cost = count_tokens(t["question"]) + count_tokens(t["answer"])
            if cost > budget:
                break
            out[:0] = [HumanMessage(t["question"]), AIMessage(t["answer"])]
            budget -= cost
        return out

    def _run_tool(self, turn: Turn, args: dict[str, Any], verdicts: list[Verdict]) -> dict[str, Any]:
        """Run the eligibility tool with the customer's facts only: a plan or date the model supplies is ignored."""
        try:
            mid, variant = self.engine.resolve_model(str(args.get("model", "")))
            if args.get("variant"):
                variant = self.engine.catalog.resolve_variant(mid, str(args["variant"]))
            v = self.offline.check(turn, mid, variant)
        except (BotError, ValueError) as err:
            data = err.to_dict() if isinstance(err, BotError) else {"error": {"code": "bad_input", "message": str(err)}}
            return data
        verdicts.append(v)
        return v.to_dict()

    @staticmethod
    def _route(decision: Decision, verdicts: list[Verdict]) -> str:
        if verdicts:
            return "clarify" if any(v.verdict == "unknown" and v.missing for v in verdicts) else "eligibility"
        return "handoff" if decision.action is Action.NOT_COVERED else "answer"

    @staticmethod
    def _sources(text: str, used: list[Hit], verdicts: list[Verdict]) -> list[Source]:
        cited = sorted({int(n) for n in CITATION.findall(text) if 1 <= int(n) <= len(used)})
        sources = [hit_source(used[n - 1]) for n in cited] or ([hit_source(used[0])] if used and not verdicts else [])
        for v in verdicts:
            src = verdict_source(v)
            if src.url not in {s.url for s in sources}:
                sources.append(src)
        return sources


def _text(ai: AIMessage | None) -> str:
    if ai is None:
        return ""
    if isinstance(ai.content, str):
        return ai.content
    return "".join(p.get("text", "") for p in ai.content if isinstance(p, dict))


def _add_usage(usage: Usage, ai: AIMessage) -> Usage:
    meta = getattr(ai, "usage_metadata", None) or {}
    return Usage(prompt_tokens=usage.prompt_tokens + int(meta.get("input_tokens", 0)),
                 completion_tokens=usage.completion_tokens + int(meta.get("output_tokens", 0)),
                 model_calls=usage.model_calls + 1)

