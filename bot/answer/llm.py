"""LLM mode: retrieval first, then an OpenAI-compatible chat model that calls the eligibility tool."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from bot.answer.compose import hit_source, retrieved, verdict_source
from bot.answer.gate import SentenceGate
from bot.answer.grounding import Grounding
from bot.answer.model_call import Limits, ModelCall, ModelFailure
from bot.answer.offline import OfflineAnswerer
from bot.answer.policy import Action, Decision, key_terms
from bot.answer.render import lead_sentence
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

FAQ_QUESTION = re.compile(r"^\s*\*\*Q:[^\n]*\*\*\s*\n")  # an FAQ chunk repeats its question, the section title
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

    def model(self, bind_tool: bool = True) -> Any:
        """Return the chat model, with the tool bound unless the rules already answered (built on first use)."""
        if self._chat is None:
            from langchain_openai import ChatOpenAI

            key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else "unused"
            self._chat = ChatOpenAI(
                model=self.settings.openai_model, api_key=key, base_url=self.settings.openai_base_url,
                timeout=self.settings.llm_timeout, max_retries=self.settings.llm_retries, temperature=0,
                stream_usage=True, max_tokens=self.settings.llm_max_tokens,
            )
        return self._chat.bind_tools([self.tool]) if bind_tool else self._chat

    def stream(self, message: str, conv: Conversation, profile: Profile | None) -> Iterator[StreamEvent]:
        """Yield the model's text sentence by sentence, each checked before it is shown, then the final answer."""
        turn = self.offline.prepare(message, conv, profile)
        try:
            hits = self.offline.search(turn)
        except SearchUnavailable:
            # Verdicts need no index: the deterministic answer gives them, and says when search is down.
            yield from self._final(self.offline.without_search(turn, mode="degraded"))
            return
        decision = self.offline.decide(turn, hits)
        verdicts: list[Verdict] = []
        if decision.action is Action.VERDICT:
            # The rules answer first (one model call instead of two): with facts missing, the question is deterministic.
            verdicts = [self.offline.check(turn, mid, vid) for mid, vid in decision.models]
            if any(v.verdict == "unknown" and v.missing for v in verdicts) or decision.amount or decision.until_when:
                turn.tool_calls.clear()
                yield from self._final(self.offline.respond(turn, decision, hits, mode="llm"))
                return
        elif decision.action is not Action.DOCS:
            # Nothing for a model to add (not covered, a person, the profile table): the deterministic answer.
            yield from self._final(self.offline.respond(turn, decision, hits, mode="llm"))
            return
        passages = decision.passages or self.offline.policy.answerable(turn, self.offline.policy.rank(turn, hits))[:1]
        # With the rules' verdicts in the prompt, the sections only support and cite them: half the budget.
        budget = self.settings.context_tokens // (2 if verdicts else 1)
        context, used = self._context([r.hit for r in passages], key_terms(message, turn.lang), budget)
        messages: list[BaseMessage] = [SystemMessage(self._system(turn, context, verdicts)), *self._history(conv),
                                       HumanMessage(message)]
        grounding = self._grounding(turn, message, used, verdicts, decision)
        # The rules answered any model the customer named. A help-center answer is offered the tool only when the
        # customer's plan is known (it may name a model the words did not, "the video model"); without facts the tool
        # could only say "unknown", and its schema costs tokens on every call. A claim the model makes anyway about a
        # model is held against the rules by the check.
        offer_tool = not verdicts and not turn.profile.is_empty()
        gate = SentenceGate(grounding.check)
        usage = Usage()
        try:
            ai: AIMessage | None = None
            limits = Limits.from_settings(self.settings)
            for _ in range(MAX_MODEL_CALLS):
                call = ModelCall(self.model(bind_tool=offer_tool), messages, limits, tools=frozenset({self.tool.name}))
                for delta in call:
                    for sentence in gate.feed(delta):
                        yield StreamEvent(type="token", text=sentence)
                    if gate.closed:
                        break  # a false sentence ends the model's stream: nothing after it is shown
                if gate.closed:
                    break
                ai = call.message
                usage = _add_usage(usage, ai)
                if not ai.tool_calls:
                    break
                messages.append(ai)
                for tool_call in ai.tool_calls:
                    result = self._run_tool(turn, tool_call["args"], verdicts)
                    messages.append(ToolMessage(content=json.dumps(result, ensure_ascii=False),
                                                tool_call_id=tool_call["id"]))
                grounding.update(verdicts)
            else:
                raise ModelFailure(f"still calling tools after {MAX_MODEL_CALLS} model calls")
            for sentence in gate.flush():
                yield StreamEvent(type="token", text=sentence)
        except ModelFailure as err:
            log.warning("model call failed (%s); answering offline", err.reason)
            turn.tool_calls.clear()
            degraded = self.offline.respond(turn, decision, hits, mode="degraded")
            yield from self._final(degraded.model_copy(update={"usage": usage}))
            return
        text = gate.released
        if gate.closed or not text.strip():
            log.warning("answer corrected: %s", "; ".join(p.detail for p in gate.problems) or "empty answer")
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

    def _grounding(self, turn: Turn, message: str, used: list[Hit], verdicts: list[Verdict], decision: Decision) -> Grounding:
        """Return the answer check of this turn: what it retrieved, what the rules said, which links it may use."""
        urls = {u for h in used for u in re.findall(r"https?://[^\s)\]]+", h.text)} | {h.url for h in used}
        urls |= set(self.engine.book.spec.links.values())
        subject = decision.models[0][0] if len(decision.models) == 1 else None
        return Grounding(self.engine, verdicts=verdicts, evidence="\n".join([*(h.text for h in used), message]),
                         urls=urls, sections=len(used), lang=turn.lang, subject=subject)

    # --- pieces -------------------------------------------------------------------------------
    @staticmethod
    def _final(answer: Answer) -> Iterator[StreamEvent]:
        yield StreamEvent(type="token", text=answer.answer)
        yield StreamEvent(type="final", answer=answer)

    def _context(self, hits: list[Hit], terms: list[str], budget: int) -> tuple[str, list[Hit]]:
        """Return numbered sections that fit the token budget, best first, each with its answering sentence first."""
        parts: list[str] = []
        used: list[Hit] = []
        for h in hits:
            title = (h.section or h.page_title).split(" › ")[-1]
            text = FAQ_QUESTION.sub("", h.text, count=1) if h.kind == "faq" else h.text  # the title says it already
            text = lead_sentence(text.strip(), terms) if h.kind in ("text", "faq") else text
            block = f"[{len(used) + 1}] {title}\n{text}"
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

    def _system(self, turn: Turn, context: str, verdicts: list[Verdict]) -> str:
        """Return the system prompt: instructions, the customer's facts, the rules' verdicts (when known) and the sections."""
        p = turn.profile
        w = self.engine.wording("en")
        known = ", ".join(x for x in (w.plan(p.plan) if p.plan else None, w.billing(p.billing) if p.billing else None,
                                      f"joined {p.signup_date.isoformat()}" if p.signup_date else None) if x) or "nothing yet"
        if verdicts:
            checked = "\n".join(f"- {w.model(v.model.id, v.variant)}: {v.verdict.replace('_', ' ')}. {self.engine.words(v, turn.lang)[0]}"
                                 + (f" Ends {v.expires_on.isoformat()}." if v.expires_on else "") for v in verdicts)
            return load_prompt("system_checked.md", language=LANGUAGE_NAMES[turn.lang], today=self.today().isoformat(),
                               profile=known, checked=checked, context=context)
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

