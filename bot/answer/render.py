"""Word a decision for the customer, in their language: verdicts, the profile table, help-center answers."""
from __future__ import annotations

import re
from datetime import date

from bot.answer.compose import hit_source, model_label, passage, verdict_source
from bot.answer.policy import Ranked
from bot.eligibility import Engine, Verdict
from bot.templates import Templates
from bot.types import Language, Source

# Caveats every unlimited verdict carries: shown once per conversation, not on every answer.
ONCE = {"chat_credits", "subject_to_change"}


class Renderer:
    """Turn verdicts and passages into answer text, one language's templates at a time."""

    def __init__(self, engine: Engine, templates: dict[str, Templates]) -> None:
        self.engine = engine
        self.templates = templates

    def tpl(self, lang: Language) -> Templates:
        """Return a language's templates."""
        return self.templates[lang]

    # --- verdicts ------------------------------------------------------------------------
    def verdict(self, v: Verdict, lang: Language, shown: set[str], *, today: date, with_notes: bool = True) -> str:
        """Render one verdict: headline, reason from the rule, end date, and caveats not shown yet in this conversation."""
        tpl = self.tpl(lang)
        label = model_label(v, self.engine, lang)
        future = v.as_of > today
        head = tpl.render(f"verdict.{v.verdict}", model=label)
        if future:
            head = tpl.render("on_day", day=v.as_of.isoformat(), verdict=head)
        reason, _ = self.engine.words(v, lang)
        if future and v.explanation.kind == "expired":
            reason = self.engine.wording(lang).reason(v.explanation.model_copy(update={"kind": "expired"}), future=True)
        lines = [f"{head} {reason}"]
        if v.verdict == "unlimited" and v.expires_on:
            lines.append(tpl.render("expires", expires_on=v.expires_on.isoformat()))
        if with_notes:
            w = self.engine.wording(lang)
            notes = [w.reason(a) for a in v.also]
            for key in v.note_keys:
                if key in ONCE and key in shown:
                    continue
                shown.add(key)
                notes.append(w.note(key, self.engine, v.model.id))
            lines.extend(f"- {n}" for n in dict.fromkeys(notes))
        return "\n".join(lines)

    def until(self, v: Verdict, lang: Language) -> str:
        """Answer 'until when?' for an earlier verdict: its end date, or that it has none."""
        tpl = self.tpl(lang)
        label = model_label(v, self.engine, lang)
        if v.verdict == "unlimited" and v.expires_on:
            return tpl.render("until.ends", model=label, expires_on=v.expires_on.isoformat())
        if v.verdict == "unlimited":
            return tpl.render("until.no_end", model=label)
        return tpl.render("until.not_unlimited", model=label)

    def sources_of(self, verdicts: list[Verdict]) -> list[Source]:
        """Return the help-center sections the verdicts cite (and a plan rule's, such as Max's)."""
        out: list[Source] = []
        for v in verdicts:
            refs = [verdict_source(v)] + [Source(title=r.title, section=r.section, url=r.url, section_id=_sid(r.url))
                                          for r in self.engine.plan_sources(v.plan)]
            for src in refs:
                if src.url not in {s.url for s in out}:
                    out.append(src)
        return out

    # --- help-center passages ------------------------------------------------------------------
    def docs(self, passages: list[Ranked], lang: Language, terms: list[str] = ()) -> tuple[str, list[Source]]:  # type: ignore[assignment]
        """Lead with the passage that answers, its answering sentence first; add a second only from another section."""
        tpl = self.tpl(lang)
        parts: list[str] = []
        sources: list[Source] = []
        for r in passages:
            text = lead_sentence(passage(r.hit, lang), terms) if r.hit.kind in ("text", "faq") else passage(r.hit, lang)
            if any(text in p or p.split(" [", 1)[0] in text for p in parts):
                continue
            sources.append(hit_source(r.hit))
            parts.append(f"{text} [{len(sources)}]")
        lead = tpl.render("other_language") + "\n\n" if parts and any(r.hit.lang != lang for r in passages) else ""
        if parts and any(r.hit.disputed for r in passages):
            lead = tpl.render("pages_differ") + "\n\n" + lead
        if len(parts) > 1:
            return lead + parts[0] + "\n\n" + tpl.render("docs_more") + "\n" + "\n".join(f"- {p}" for p in parts[1:]), sources
        return (lead + parts[0]) if parts else "", sources


SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\[\"가-힣])|(?<=다\.)\s+")


# A passage that opens with a yes or a no answers first already.
YES_NO = re.compile(r"^\s*(?:\*\*)?(?:yes|no|yep|nope|예|네|아니요|아니오|아뇨)\b[.,!]?", re.I)


def lead_sentence(text: str, terms: list[str]) -> str:
    """Put the sentence of a passage that has most of the question's words first (the rest follows)."""
    if not terms or re.search(r"^\s*(?:[-*]\s|\d+[.)]\s|\*\*[^*\n]+\*\*\s*$)", text, re.M):
        return text  # a list, or steps under bold titles, keeps its order
    if YES_NO.match(text):
        return text  # "No. Re-verify after you return": the short answer leads already
    sentences = [s for para in re.split(r"\n\s*\n", text.strip()) for s in SENTENCE.split(para.strip()) if s.strip()]
    if len(sentences) < 2:
        return text

    def hits(s: str) -> int:
        # A link's words name another page ("See [Using Carat Video in Agent 2.0](...)"): a pointer never leads.
        low = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", s).lower()
        return sum(1 for t in terms if (t[:5] if len(t) > 5 else t) in low)

    best = max(range(len(sentences)), key=lambda i: (hits(sentences[i]), -i))
    if best == 0 or hits(sentences[best]) <= hits(sentences[0]):
        return text
    return " ".join([sentences[best], *sentences[:best], *sentences[best + 1:]])


def _sid(url: str) -> str:
    from bot.answer.compose import section_id_of

    return section_id_of(url)
