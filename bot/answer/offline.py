"""The offline answerer: the shared policy, the eligibility tool and the renderer, with no language model."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date

from bot import timing
from bot.answer.compose import retrieved, tool_call
from bot.answer.cues import Cues, load_cues
from bot.answer.facts import SignupSpan
from bot.answer.policy import Action, Decision, Policy, key_terms
from bot.answer.render import Renderer
from bot.answer.turn import LastVerdict, Pending, Turn, prepare, remember
from bot.conversation import Conversation
from bot.eligibility import Engine, Verdict
from bot.retrieval import Hit, Retriever, SearchUnavailable
from bot.settings import Settings, get_settings
from bot.templates import Templates, load_templates
from bot.tools import make_eligibility_tool
from bot.types import Answer, Handoff, Profile, Source, StreamEvent, ToolCall

ROUTES = {Action.DOCS: "answer", Action.VERDICT: "eligibility", Action.TABLE: "eligibility", Action.CLARIFY: "clarify",
          Action.NOT_COVERED: "handoff", Action.HANDOFF: "handoff", Action.OFF_TOPIC: "refuse", Action.REFUSE: "refuse",
          Action.DATE_PROBLEM: "clarify"}

# What can be answered with the search index down: the rules engine and the customer's words suffice.
NEEDS_NO_SEARCH = (Action.VERDICT, Action.TABLE, Action.DATE_PROBLEM, Action.REFUSE, Action.HANDOFF)


class OfflineAnswerer:
    """Answer without a language model, from the rules engine and the help center."""

    def __init__(self, *, retriever: Retriever, engine: Engine, today: Callable[[], date],
                 templates: dict[str, Templates] | None = None, settings: Settings | None = None,
                 cues: dict[str, Cues] | None = None) -> None:
        self.retriever = retriever
        self.engine = engine
        self.today = today
        self.settings = settings or get_settings()
        self.templates = templates or load_templates()
        self.cues = cues or load_cues(self.settings.cues_file)
        self.policy = Policy(engine, self.cues, self.settings, rarity=retriever.rarity, english=retriever.glossary.english,
                             seen=retriever.seen,
                             pairs=retriever.glossary.pairs)
        self.render = Renderer(engine, self.templates)
        self.tool = make_eligibility_tool(engine, today)

    def stream(self, message: str, conv: Conversation, profile: Profile | None) -> Iterator[StreamEvent]:
        """Yield the answer in a few pieces, then the final event."""
        answer = self.answer(message, conv, profile)
        for piece in re.split(r"(?<=\n)", answer.answer):
            if piece:
                yield StreamEvent(type="token", text=piece)
        yield StreamEvent(type="final", answer=answer)

    # --- one turn ---------------------------------------------------------------------------
    def prepare(self, message: str, conv: Conversation, profile: Profile | None) -> Turn:
        """Read the message's facts into the conversation state (once per turn, for either mode)."""
        with timing.phase("prepare"):
            return prepare(message, conv, profile, engine=self.engine, cues=self.cues, today=self.today())

    def search(self, turn: Turn) -> list[Hit]:
        """Return the passages search finds for the turn (a few per section, so the one that answers can lead)."""
        with timing.phase("search"):
            return self.retriever.search(turn.message, k=self.settings.search_top_k + 7, lang=turn.lang, per_section=2)

    def decide(self, turn: Turn, hits: list[Hit]) -> Decision:
        """Return the policy's decision for the turn."""
        return self.policy.decide(turn, hits, self.retriever.vocabulary())

    def answer(self, message: str, conv: Conversation, request_profile: Profile | None, mode: str = "offline",
               turn: Turn | None = None) -> Answer:
        """Answer one message, updating the conversation's remembered facts."""
        turn = turn or self.prepare(message, conv, request_profile)
        try:
            hits = self.search(turn)
        except SearchUnavailable:
            return self.without_search(turn, mode)
        decision = self.decide(turn, hits)
        return self.respond(turn, decision, hits, mode)

    def without_search(self, turn: Turn, mode: str = "offline") -> Answer:
        """Answer while the index is down: verdicts, the profile table and handoffs need none; the rest says so."""
        decision = self.policy.decide(turn, [], frozenset())
        if decision.action in NEEDS_NO_SEARCH:
            return self.respond(turn, decision, [], mode)
        remember(turn)
        return Answer(answer=self.templates[turn.lang].render("search_unavailable"), route="handoff", sources=[],
                      tool_calls=turn.tool_calls, mode=mode, session_id=turn.conv.id, language=turn.lang, retrieved=[])

    def respond(self, turn: Turn, decision: Decision, hits: list[Hit], mode: str = "offline") -> Answer:
        """Carry out a decision deterministically (the LLM answerer falls back on this too)."""
        tpl = self.templates[turn.lang]
        sources: list[Source] = []
        route = ROUTES[decision.action]
        if decision.action is Action.DATE_PROBLEM:
            text = self._date_problem(turn, tpl)
        elif decision.action is Action.VERDICT:
            text, route, sources = self._verdicts(turn, decision, tpl)
        elif decision.action is Action.TABLE:
            text, route, sources = self._profile_table(turn, tpl)
        elif decision.action is Action.DOCS:
            text, sources = self.render.docs(decision.passages, turn.lang, key_terms(turn.message, turn.lang))
        elif decision.action is Action.HANDOFF:
            text, sources = self._handoff(turn, decision, tpl)
        elif decision.action is Action.NOT_COVERED:
            text, sources = self._not_covered(turn, decision, tpl)
        elif decision.action is Action.REFUSE:
            text = tpl.render("injection")
        else:
            text = tpl.render("off_topic")
        if route != "clarify":
            turn.state.pending = None
        remember(turn)
        # Why a person is offered; the service turns the offer into a ticket when the customer wants one.
        handoff = Handoff(status="offered", reason=decision.reason or "not_covered") if route == "handoff" else None
        return Answer(answer=text, route=route, sources=sources, tool_calls=turn.tool_calls, mode=mode,  # type: ignore[arg-type]
                      session_id=turn.conv.id, language=turn.lang, retrieved=retrieved(hits), handoff=handoff)

    # --- eligibility ----------------------------------------------------------------------
    def check(self, turn: Turn, model: str, variant: str | None) -> Verdict:
        """Run the eligibility tool with the customer's facts; an uncertain signup is checked at each reading."""
        p = turn.profile
        span = turn.span
        signup = span.start if span else None
        v = self._call_tool(turn, model, variant, p.plan, p.billing, signup)
        readings = [span.end] if span and span.end != span.start else []
        readings += list(span.alternatives) if span else []
        for other in readings:
            alt = self._call_tool(turn, model, variant, p.plan, p.billing, other)
            if (alt.verdict, alt.expires_on) != (v.verdict, v.expires_on):
                return v.model_copy(update={"verdict": "unknown", "missing": ("signup_date",)})
        return v

    def _call_tool(self, turn: Turn, model: str, variant: str | None, plan: str | None, billing: str | None,
                   signup: date | None) -> Verdict:
        """Call the eligibility tool through the tool object and record the call."""
        args = {"model": model, "variant": variant, "plan": plan, "billing": billing,
                "signup_date": signup.isoformat() if signup else None}
        result = json.loads(self.tool.invoke({k: v for k, v in args.items() if v is not None} | {"as_of": turn.as_of.isoformat()}))
        v = Verdict.model_validate(result)
        turn.tool_calls.append(tool_call(v))
        return v

    def _verdicts(self, turn: Turn, decision: Decision, tpl: Templates) -> tuple[str, str, list[Source]]:
        verdicts = [self.check(turn, mid, vid) for mid, vid in decision.models]
        needs: list[str] = []
        for v in verdicts:
            needs += [n for n in v.missing if n not in needs]
        blocks = []
        shown = turn.shown_notes
        for v in verdicts:
            if v.verdict == "unknown" and v.missing:
                continue
            if decision.until_when and turn.facts.as_of is None:
                blocks.append(self.render.until(v, turn.lang))
            else:
                blocks.append(self.render.verdict(v, turn.lang, shown, today=turn.today, with_notes=len(verdicts) == 1))
        sources = self.render.sources_of([v for v in verdicts if not (v.verdict == "unknown" and v.missing)])
        turn.state.last_models = [tuple(m) for m in decision.models]
        turn.state.last_verdicts = [LastVerdict(model=v.model.id, variant=v.variant, verdict=v.verdict, expires_on=v.expires_on)
                                    for v in verdicts]
        if decision.injection:
            blocks.insert(0, tpl.render("injection_short"))
        if decision.amount:
            if needs:
                # "How many credits does Carat Video cost?": no page gives the figure; asking for the plan would not help.
                turn.tool_calls.clear()
                return f"{tpl.render('amount_not_covered')}\n\n{tpl.render('no_answer_person')}", "handoff", []
            blocks.append(tpl.render("amount_not_given"))
        if needs:
            asking = [v for v in verdicts if v.verdict == "unknown" and v.missing]
            turn.state.pending = Pending(models=[(v.model.id, v.variant) for v in asking])
            if decision.general_first and decision.passages:
                general, docs_sources = self.render.docs(decision.passages[:1], turn.lang)
                blocks.insert(0, general)
                sources = docs_sources + [s for s in sources if s.url not in {d.url for d in docs_sources}]
            blocks.append(self._clarify(turn, asking, needs, tpl))
            return "\n\n".join(blocks), "clarify", sources
        return "\n\n".join(blocks), "eligibility", sources

    def _clarify(self, turn: Turn, asking: list[Verdict], needs: list[str], tpl: Templates) -> str:
        """Ask one question for everything still needed (which reading, for an ambiguous date)."""
        parts = []
        span = turn.span
        for need in needs:
            if need == "variant":
                for v in asking:
                    variants = self.engine.book.spec.models[v.model.id].variants
                    if variants and not v.variant:
                        w = self.engine.wording(turn.lang)
                        names = ", ".join(w.variant(v.model.id, vid) for vid in variants)
                        # One model asked about: the question names it already.
                        key = "need.variant_one" if len(asking) == 1 else "need.variant"
                        parts.append(tpl.render(key, model=w.model(v.model.id), variants=names))
            elif need == "signup_date" and span and span.alternatives:
                readings = [span.start, *span.alternatives]
                parts.append(tpl.render("need.which_date", text=span.text, dates=" / ".join(d.isoformat() for d in readings)))
            elif need == "signup_date" and span and not span.exact:
                parts.append(tpl.render("need.signup_exact"))
            else:
                parts.append(tpl.render(f"need.{need}"))
        w = self.engine.wording(turn.lang)
        names = ", ".join(dict.fromkeys(w.model(v.model.id) for v in asking))
        return tpl.render("clarify", models=names, needs=_join(parts, tpl.render("need_join")))

    def _profile_table(self, turn: Turn, tpl: Templates) -> tuple[str, str, list[Source]]:
        p = turn.profile
        missing = [n for n, val in (("plan", p.plan), ("billing", p.billing), ("signup_date", p.signup_date)) if not val]
        if missing:
            parts = [tpl.render(f"need.{n}") for n in missing]
            return tpl.render("clarify", models=tpl.render("your_benefits"), needs=_join(parts, tpl.render("need_join"))), "clarify", []
        as_of = turn.as_of
        rows = self.engine.profile_table(p.plan, p.billing, p.signup_date, as_of=as_of)
        span = turn.span
        for other in ([span.end] if span and span.end != span.start else []) + (list(span.alternatives) if span else []):
            # A month-precise or ambiguous signup: rows whose verdict changes with the reading need the exact day.
            alt = self.engine.profile_table(p.plan, p.billing, other, as_of=as_of)
            rows = [a if (a.verdict, a.expires_on) == (b.verdict, b.expires_on)
                    else a.model_copy(update={"verdict": "unknown", "missing": ("signup_date",), "expires_on": None})
                    for a, b in zip(rows, alt)]
        turn.tool_calls.append(ToolCall(name="eligibility_profile",
                                        args={"plan": p.plan, "billing": p.billing, "signup_date": p.signup_date.isoformat(),
                                              "as_of": as_of.isoformat()},
                                        result={"rows": [r.to_dict() for r in rows]}))
        from bot.answer.compose import render_profile_table

        w = self.engine.wording(turn.lang)
        who = ", ".join(x for x in (w.plan(p.plan), w.billing(p.billing), _signup_label(span, p.signup_date)) if x)
        text = render_profile_table(rows, who, turn.lang, tpl, self.engine)
        sources = self.render.sources_of([r for r in rows if r.verdict == "unlimited"])
        return text, "eligibility", sources

    def _handoff(self, turn: Turn, decision: Decision, tpl: Templates) -> tuple[str, list[Source]]:
        """Offer a person; for money questions, the help center's answer comes first when a page covers it."""
        key = {"money": "handoff_money", "frustration": "handoff_frustration"}.get(decision.reason, "handoff")
        if decision.passages:
            docs, sources = self.render.docs(decision.passages, turn.lang)
            return f"{docs}\n\n{tpl.render(key)}", sources
        return tpl.render(key), []

    def _not_covered(self, turn: Turn, decision: Decision, tpl: Templates) -> tuple[str, list[Source]]:
        """Say honestly that the help center does not cover it (naming an unknown product), and offer a person."""
        if not decision.unknown_name:
            # Where to see one's benefits helps a question about benefits or credits, not one about LoRA or an API.
            return tpl.render("no_answer_benefits" if self.policy.mentions_eligibility(turn) else "no_answer"), []
        text = tpl.render("unknown_product", name=decision.unknown_name)
        sources: list[Source] = []
        if decision.passages:
            docs, sources = self.render.docs(decision.passages[:1], turn.lang)
            text = f"{text}\n\n{docs}"
        return f"{text}\n\n{tpl.render('no_answer_person')}", sources

    def _date_problem(self, turn: Turn, tpl: Templates) -> str:
        f = turn.facts
        if f.date_problem == "future_date":
            return tpl.render("future_date", text=f.date_problem_text, today=turn.today.isoformat())
        return tpl.render("bad_date", text=f.date_problem_text)


def _join(parts: list[str], last: str) -> str:
    """Join 'a, b and c' (the last separator comes from the language's templates)."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + last + parts[-1]


def _signup_label(span: SignupSpan | None, day: date) -> str:
    """Return the signup date as the customer gave it: a day, a month (2025-06), a year, a range or two readings."""
    if span is None or span.exact:
        return day.isoformat()
    if span.alternatives:
        return " / ".join(d.isoformat() for d in (span.start, *span.alternatives))
    if span.precision == "month":
        return span.start.strftime("%Y-%m")
    if span.precision == "year":
        return str(span.start.year)
    return f"{span.start.isoformat()} – {span.end.isoformat()}"
