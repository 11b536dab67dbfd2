"""Compose answers from tool results and retrieved passages (shared by both answerers)."""
from __future__ import annotations

import re
from datetime import date

from bot.templates import Templates
from bot.eligibility import TOOL_NAME, Engine, Verdict
from bot.retrieval import Hit
from bot.types import Language, Retrieved, Source, ToolCall

HANGUL = re.compile(r"[\uac00-\ud7a3]")
MAX_PASSAGE_CHARS = 700


def detect_language(text: str) -> Language:
    """Return 'ko' when the message is written mostly in Hangul, else 'en'."""
    letters = [c for c in text if c.isalpha()]
    hangul = sum(1 for c in letters if HANGUL.match(c))
    return "ko" if letters and hangul / len(letters) >= 0.3 else "en"


def tool_call(v: Verdict) -> ToolCall:
    """Return the record of one eligibility check."""
    args = {"model": v.model.id, "variant": v.variant, "plan": v.plan, "billing": v.billing,
            "signup_date": v.signup_date.isoformat() if v.signup_date else None, "as_of": v.as_of.isoformat()}
    return ToolCall(name=TOOL_NAME, args=args, result=v.to_dict())


def verdict_source(v: Verdict) -> Source:
    """Return the help-center section a verdict cites."""
    return Source(title=v.source.title, section=v.source.section, url=v.source.url,
                  section_id=section_id_of(v.source.url))


def section_id_of(url: str) -> str:
    """Return the section id (PAGE_ID#anchor) of a help-center URL."""
    path, _, anchor = url.partition("#")
    page = path.split("/docs/", 1)[-1]
    return f"{page}#{anchor}" if anchor else page


def model_label(v: Verdict, engine: Engine, lang: Language = "en") -> str:
    """Return the model's display name with its variant, in the customer's language."""
    return engine.display(v.model.id, v.variant, lang)


def render_verdict(v: Verdict, lang: Language, tpl: Templates, engine: Engine, *, with_notes: bool = True) -> str:
    """Render one verdict: headline, reason (worded from the rule), end date and the caveats that matter."""
    label = model_label(v, engine, lang)
    head = tpl.render(f"verdict.{v.verdict}", model=label)
    reason, notes = engine.words(v, lang)
    lines = [f"{head} {reason}"]
    if v.verdict == "unlimited" and v.expires_on:
        lines.append(tpl.render("expires", expires_on=v.expires_on.isoformat()))
    if with_notes and notes:
        lines.extend(f"- {n}" for n in notes)
    return "\n".join(lines)


def render_profile_table(rows: list[Verdict], profile_text: str, lang: Language, tpl: Templates, engine: Engine) -> str:
    """Render 'what is unlimited for me' as three short lists."""
    groups: dict[str, list[str]] = {"unlimited": [], "uses_credits": [], "unknown": [], "need_date": []}
    for v in rows:
        if v.model.kind == "agent":
            continue
        label = model_label(v, engine, lang)
        if v.verdict == "unlimited" and v.expires_on:
            label += f" ({v.expires_on.isoformat()})"
        groups["need_date" if v.verdict == "unknown" and v.missing else v.verdict].append(label)
    lines = [tpl.render("profile_intro", profile=profile_text)]
    for verdict, key in (("unlimited", "profile_unlimited"), ("uses_credits", "profile_uses_credits"),
                         ("need_date", "profile_need_date"), ("unknown", "profile_unknown")):
        if groups[verdict]:
            lines.append("- " + tpl.render(key, models=", ".join(groups[verdict])))
    lines.append(tpl.render("profile_chat_note"))
    return "\n".join(lines)


def hit_source(h: Hit) -> Source:
    """Return the citation for a retrieved section."""
    return Source(title=h.page_title, section=h.section or h.page_title, url=h.url, section_id=h.section_id)


def retrieved(hits: list[Hit]) -> list[Retrieved]:
    """Return the retrieval record of a turn."""
    return [Retrieved(section_id=h.section_id, section=h.section or h.page_title, url=h.url,
                      score=round(h.score, 6), dense=round(h.dense, 4)) for h in hits]


def passage(h: Hit) -> str:
    """Return a retrieved chunk as readable text: a table row as a sentence, an FAQ as its answer."""
    text = h.text.strip()
    if h.kind == "table_row":
        pairs = [line.split(": ", 1) for line in text.split("\n") if ": " in line]
        if len(pairs) >= 2:
            head = pairs[0][1]
            rest = "; ".join(f"{k.lower()}: {v}" for k, v in pairs[1:])
            where = h.section.split(" › ")[0] if h.section else ""
            return f"{head}: {rest} ({where})" if where else f"{head}: {rest}"
    if h.kind in ("faq", "text") and text.startswith("**Q:"):
        text = text.split("\n", 1)[-1].strip()
    if text.startswith("Related article: "):
        text = text[len("Related article: "):]
    return _trim(text)


def _trim(text: str) -> str:
    if len(text) <= MAX_PASSAGE_CHARS:
        return text
    cut = text[:MAX_PASSAGE_CHARS]
    end = max(cut.rfind(". "), cut.rfind("\n"))
    return (cut[: end + 1] if end > 200 else cut.rstrip()) + " …"


def compose_docs(hits: list[Hit], lang: Language, tpl: Templates) -> tuple[str, list[Source]]:
    """Compose a short answer from the best passages, each with a numbered citation."""
    parts: list[str] = []
    sources: list[Source] = []
    # A related-article card is a pointer, not an answer: it never leads.
    for h in sorted(hits, key=lambda h: h.kind == "card"):
        text = passage(h)
        if any(text == p.split(" [", 1)[0] for p in parts):
            continue
        sources.append(hit_source(h))
        parts.append(f"{text} [{len(sources)}]")
    lead = ""
    if parts and any(h.lang != lang for h in hits):
        lead = tpl.render("other_language") + "\n\n"  # a Korean question answered from an English-only page
    if len(parts) > 1:
        return lead + parts[0] + "\n\n" + tpl.render("docs_more") + "\n" + "\n".join(f"- {p}" for p in parts[1:]), sources
    return (lead + parts[0] if parts else ""), sources


def profile_text(plan: str | None, billing: str | None, signup: date | None, names: dict[str, str]) -> str:
    """Return a short human description of a profile."""
    bits = [names.get(plan, plan) if plan else None, billing, f"joined {signup.isoformat()}" if signup else None]
    return ", ".join(b for b in bits if b)
