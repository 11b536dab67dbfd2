"""The offline answerer: deterministic routing, the eligibility tool, templates and retrieved passages."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from bot.answer.compose import (
    compose_docs,
    detect_language,
    profile_text,
    render_profile_table,
    render_verdict,
    retrieved,
    section_id_of,
    tool_call,
    verdict_source,
)
from bot.answer.facts import Facts, SignupSpan, extract_facts
from bot.templates import Templates, load_templates
from bot.conversation import Conversation
from bot.eligibility import Engine, Verdict
from bot.retrieval import Hit, Retriever, SearchUnavailable
from bot.types import Answer, Language, Profile, Source, StreamEvent, ToolCall

# Dense similarity (multilingual-e5) below which retrieved text is not about the question.
MIN_RELEVANT = 0.80
MIN_ON_TOPIC = 0.77
# Without a single Carat word, only a very close passage keeps a message on topic.
OFF_TOPIC_UNLESS = 0.87
# A passage this close means the message is the help center's own question.
CLOSE_MATCH = 0.90
MAX_MODELS = 4
HANDOFF = re.compile(
    r"\b(human|real person|a person|someone real|talk to (someone|somebody)|speak (to|with)|representative|"
    r"operator|customer (service|support)|support team|contact support|refund|refunds|money back|chargeback|"
    r"dispute|charged twice|double[- ]charged|overcharged|cancel my (subscription|plan|account))\b"
    r"|사람|상담원|상담사|직원|환불|고객센터|고객 ?지원|이중 결제|중복 결제|결제 취소", re.I)
INJECTION = re.compile(
    r"ignore (all |any |the )?(previous|prior|above|earlier|your) (instructions|rules|prompts?)|disregard (the|your|all)|"
    r"system prompt|you are now|developer mode|jailbreak|pretend (you|to be)|act as|new instructions|"
    r"이전 지시|지시(를|사항을)? 무시|시스템 프롬프트|규칙을 무시", re.I)
TABLE_CUE = re.compile(
    r"\b(what|which)( models?| ones?)?( is| are)?( unlimited| free| included)\b.*\b(me|my|i)\b|"
    r"\bwhat('s| is) (unlimited|free|included) for me\b|\bwhat do i get\b|\bwhat are my (unlimited )?benefits\b"
    r"|어떤 모델.*무제한|무제한.*(뭐|무엇|어떤)", re.I)
DOMAIN = re.compile(
    r"credit|unlimit|plan|subscri|billing|annual|monthly|model|image|video|agent|generat|benefit|promo|carat|"
    r"resolution|signup|sign up|joined|price|pay|free|cost|charge|deduct|low on|limit|version|account|support|"
    r"nanobanana|seedream|flux|sora|veo|kling|midjourney|lip ?sync|크레딧|무제한|플랜|구독|결제|모델|이미지|비디오|영상|에이전트|생성|혜택|가입",
    re.I)
# Words that make a message a question about something beyond the profile facts it states.
DOMAIN_QUESTION = re.compile(r"\?|^\s*(why|how|what|where|when|which|can|could|does|do|is|are|should)\b|왜|어떻게|무엇|뭐|어디|언제|나요|까요|인가요", re.I)
FOLLOW_UP = re.compile(r"^\s*(what|how) about\b|^\s*and\b|^\s*(what|how) if\b|그럼|그러면|는요\??$|은요\??$", re.I)


@dataclass
class Turn:
    """What the answerer knows while it answers one message."""

    message: str
    lang: Language
    facts: Facts
    profile: Profile
    span: SignupSpan | None
    conv: Conversation
    tool_calls: list[ToolCall] = field(default_factory=list)


class OfflineAnswerer:
    """Answer without a language model, from the rules engine and the help center."""

    def __init__(self, *, retriever: Retriever, engine: Engine, today: Callable[[], date],
                 templates: dict[str, Templates] | None = None) -> None:
        self.retriever = retriever
        self.engine = engine
        self.today = today
        self.templates = templates or load_templates()
        self.plan_names = {pid: p.name for pid, p in engine.book.spec.plans.items()}

    def stream(self, message: str, conv: Conversation, profile: Profile | None) -> Iterator[StreamEvent]:
        """Yield the answer in a few pieces, then the final event."""
        answer = self.answer(message, conv, profile)
        for piece in re.split(r"(?<=\n)", answer.answer):
            if piece:
                yield StreamEvent(type="token", text=piece)
        yield StreamEvent(type="final", answer=answer)

    def answer(self, message: str, conv: Conversation, request_profile: Profile | None,
               mode: str = "offline") -> Answer:
        """Answer one message, updating the conversation's remembered facts."""
        turn = self.prepare(message, conv, request_profile)
        tpl = self.templates[turn.lang]
        if turn.facts.date_problem:
            return self._done(turn, "clarify", self._date_problem(turn, tpl), [], [], mode)
        if HANDOFF.search(message):
            return self._done(turn, "handoff", tpl.render("handoff"), [], [], mode)
        wants_table = bool(TABLE_CUE.search(message)) and not turn.facts.models
        models = [] if wants_table else self._models_to_check(turn)
        injection = bool(INJECTION.search(message))
        if models:
            text, route, sources = self._eligibility(turn, models, tpl)
            hits = self._search(message, turn.lang) or []  # verdicts need no index
            if route == "clarify" and turn.profile.is_empty():
                # A general question ("isn't Nanobanana Pro also unlimited?"): give the help center's
                # answer first, then ask for the facts that would make it personal.
                general, docs_sources = compose_docs(self._relevant(hits)[:1], turn.lang, tpl)
                if general:
                    text = f"{general}\n\n{text}"
                    sources = docs_sources + [s for s in sources if s.url not in {d.url for d in docs_sources}]
            if injection:
                text = tpl.render("injection").split(". ")[0] + ".\n\n" + text
            return self._done(turn, route, text, sources, hits, mode)
        if injection:
            return self._done(turn, "refuse", tpl.render("injection"), [], [], mode)
        found = self._search(message, turn.lang)
        if found is None:
            return self._done(turn, "handoff", tpl.render("search_unavailable"), [], [], mode)
        hits = found
        best = max((h.dense for h in hits), default=0.0)
        # A message that only states facts ("Premium annual since March") gets the customer's table,
        # unless it reads like a help-center question ("Pro plan says unlimited video but ...").
        facts_only = turn.facts.has_profile_facts() and not DOMAIN_QUESTION.search(message) and best < CLOSE_MATCH
        if wants_table or facts_only:
            text, route, sources = self._profile_table(turn, tpl)
            return self._done(turn, route, text, sources, hits, mode)
        on_topic = DOMAIN.search(message) or turn.facts.has_profile_facts()
        if not on_topic and best < OFF_TOPIC_UNLESS:
            return self._done(turn, "refuse", tpl.render("off_topic"), [], hits, mode)
        relevant = self._relevant(hits)
        if not relevant or best < MIN_ON_TOPIC:
            return self._done(turn, "handoff", tpl.render("no_answer"), [], hits, mode)
        text, sources = compose_docs(relevant, turn.lang, tpl)
        return self._done(turn, "answer", text, sources, hits, mode)

    def _search(self, message: str, lang: str) -> list[Hit] | None:
        """Return the hits for a message, or None when search is unavailable."""
        try:
            return self.retriever.search(message, k=5, lang=lang)
        except SearchUnavailable:
            return None

    @staticmethod
    def _relevant(hits: list[Hit]) -> list[Hit]:
        """Return up to two hits about the question, the closest in meaning first."""
        if not hits:
            return []
        keep = [h for h in hits if h.dense >= MIN_RELEVANT and h.score >= hits[0].score * 0.5]
        return sorted(keep, key=lambda h: -h.dense)[:2]

    # --- turn state -----------------------------------------------------------------------
    def prepare(self, message: str, conv: Conversation, request_profile: Profile | None) -> Turn:
        """Read the message's facts, merge them into the conversation and the request profile."""
        today = self.today()
        facts = extract_facts(message, self.engine, today)
        stored = conv.facts.setdefault("profile", {})
        if facts.plan:
            stored["plan"] = facts.plan
        if facts.billing:
            stored["billing"] = facts.billing
        if facts.signup:
            stored["signup_date"] = facts.signup.start.isoformat()
            stored["signup_end"] = facts.signup.end.isoformat()
        span = None
        if stored.get("signup_date"):
            start = date.fromisoformat(stored["signup_date"])
            span = SignupSpan(start, date.fromisoformat(stored.get("signup_end") or stored["signup_date"]), "")
        profile = Profile(plan=stored.get("plan"), billing=stored.get("billing"), signup_date=span.start if span else None)
        if request_profile is not None and not request_profile.is_empty():
            profile = profile.merged(request_profile)
            if request_profile.signup_date:
                span = SignupSpan(request_profile.signup_date, request_profile.signup_date, "")
        lang = detect_language(message)
        return Turn(message, lang, facts, profile, span, conv)

    def _models_to_check(self, turn: Turn) -> list[tuple[str, str | None]]:
        """Return the models this message asks about, or those of a pending or earlier question."""
        named = [(m.model_id, m.variant) for m in turn.facts.models
                 if self.engine.book.spec.models[m.model_id].kind != "agent"]
        named = list(dict.fromkeys(named))[:MAX_MODELS]
        if named:
            return named
        pending = turn.conv.facts.get("pending")
        if pending:
            models = [(mid, vid) for mid, vid in pending["models"]]
            return [(mid, vid or self._variant_in(turn.message, mid)) for mid, vid in models]
        last = turn.conv.facts.get("last_models") or []
        if last and (turn.facts.has_profile_facts() or FOLLOW_UP.search(turn.message)):
            return [(mid, vid) for mid, vid in last]
        return []

    def _variant_in(self, message: str, model_id: str) -> str | None:
        for vid, spec in self.engine.book.spec.models[model_id].variants.items():
            for name in (spec.name, vid, *getattr(spec, "aliases", ())):
                if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message, re.I):
                    return vid
        return None

    # --- eligibility ----------------------------------------------------------------------
    def check(self, turn: Turn, model: str, variant: str | None) -> Verdict:
        """Call the eligibility tool, once per end of an uncertain signup span."""
        p, today = turn.profile, self.today()
        v = self.engine.evaluate(model, variant, p.plan, p.billing, turn.span.start if turn.span else None,
                                 as_of=today)
        turn.tool_calls.append(tool_call(v))
        if turn.span and not turn.span.exact:
            late = self.engine.evaluate(model, variant, p.plan, p.billing, turn.span.end, as_of=today)
            if (late.verdict, late.expires_on) != (v.verdict, v.expires_on):
                turn.tool_calls.append(tool_call(late))
                return v.model_copy(update={"verdict": "unknown", "missing": ("signup_date",)})
        return v

    def _eligibility(self, turn: Turn, models: list[tuple[str, str | None]],
                     tpl: Templates) -> tuple[str, str, list[Source]]:
        verdicts = [self.check(turn, mid, vid) for mid, vid in models]
        turn.conv.facts["last_models"] = [list(m) for m in models]
        needs: list[str] = []
        for v in verdicts:
            needs += [n for n in v.missing if n not in needs]
        blocks, sources = [], []
        for v in verdicts:
            if v.verdict == "unknown" and v.missing:
                continue
            blocks.append(render_verdict(v, turn.lang, tpl, self.engine, with_notes=len(verdicts) == 1))
            for src in (verdict_source(v), *self._plan_sources(v)):
                if src.url not in {s.url for s in sources}:
                    sources.append(src)
        if needs:
            asking = [v for v in verdicts if v.verdict == "unknown" and v.missing]
            turn.conv.facts["pending"] = {"models": [[v.model.id, v.variant] for v in asking]}
            blocks.append(self._clarify(turn, asking, needs, tpl))
            return "\n\n".join(blocks), "clarify", sources
        turn.conv.facts.pop("pending", None)
        return "\n\n".join(blocks), "eligibility", sources

    def _plan_sources(self, v: Verdict) -> list[Source]:
        """Return the section of a plan rule behind the verdict (Max's 'same as Premium')."""
        return [Source(title=r.title, section=r.section, url=r.url, section_id=section_id_of(r.url))
                for r in self.engine.plan_sources(v.plan)]

    def _clarify(self, turn: Turn, asking: list[Verdict], needs: list[str], tpl: Templates) -> str:
        """Ask one question for everything still needed."""
        parts = []
        for need in needs:
            if need == "variant":
                for v in asking:
                    variants = self.engine.book.spec.models[v.model.id].variants
                    if variants and not v.variant:
                        names = ", ".join(s.name for s in variants.values())
                        parts.append(tpl.render("need.variant", model=v.model.name, variants=names))
            elif need == "signup_date" and turn.span and not turn.span.exact:
                parts.append(tpl.render("need.signup_exact"))
            else:
                parts.append(tpl.render(f"need.{need}"))
        names = ", ".join(dict.fromkeys(v.model.name for v in asking))
        return tpl.render("clarify", models=names, needs=_join(parts, tpl.render("need_join")))

    def _profile_table(self, turn: Turn, tpl: Templates) -> tuple[str, str, list[Source]]:
        p = turn.profile
        missing = [n for n, val in (("plan", p.plan), ("billing", p.billing), ("signup_date", p.signup_date)) if not val]
        if missing:
            turn.conv.facts.pop("pending", None)
            parts = [tpl.render(f"need.{n}") for n in missing]
            return tpl.render("clarify", models="your benefits" if turn.lang == "en" else "회원님의",
                              needs=_join(parts, tpl.render("need_join"))), "clarify", []
        rows = self.engine.profile_table(p.plan, p.billing, p.signup_date, as_of=self.today())
        if turn.span and not turn.span.exact:
            # A month-precise signup: rows whose verdict changes within that month need the exact day.
            late = self.engine.profile_table(p.plan, p.billing, turn.span.end, as_of=self.today())
            rows = [a if (a.verdict, a.expires_on) == (b.verdict, b.expires_on)
                    else a.model_copy(update={"verdict": "unknown", "missing": ("signup_date",), "expires_on": None})
                    for a, b in zip(rows, late)]
        turn.conv.facts.pop("pending", None)
        turn.tool_calls.append(ToolCall(name="eligibility_profile",
                                        args={"plan": p.plan, "billing": p.billing,
                                              "signup_date": p.signup_date.isoformat(), "as_of": self.today().isoformat()},
                                        result={"rows": [r.to_dict() for r in rows]}))
        text = render_profile_table(rows, profile_text(p.plan, p.billing, p.signup_date, self.plan_names), turn.lang, tpl,
                                    self.engine)
        sources = list({verdict_source(r).url: verdict_source(r) for r in rows if r.verdict == "unlimited"}.values())
        return text, "eligibility", sources

    def _date_problem(self, turn: Turn, tpl: Templates) -> str:
        f = turn.facts
        if f.date_problem == "future_date":
            return tpl.render("future_date", text=f.date_problem_text, today=self.today().isoformat())
        return tpl.render("bad_date", text=f.date_problem_text)

    # --- result -----------------------------------------------------------------------------
    def _done(self, turn: Turn, route: str, text: str, sources: list[Source], hits: list[Hit],
              mode: str) -> Answer:
        if route not in ("clarify",) and route != "eligibility":
            turn.conv.facts.pop("pending", None)
        return Answer(answer=text, route=route, sources=sources, tool_calls=turn.tool_calls, mode=mode,
                      session_id=turn.conv.id, language=turn.lang, retrieved=retrieved(hits))


def _join(parts: list[str], last: str) -> str:
    """Join 'a, b and c' (the last separator comes from the language's templates)."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + last + parts[-1]
