"""One answer policy for both modes: decide how to answer a turn from its facts and the passages search found."""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from collections.abc import Callable

from bot.answer.cues import Cues
from bot.answer.turn import ModelKey, Turn
from bot.eligibility import Engine
from bot.retrieval import Hit, tokenize
from bot.settings import Settings

# Words that carry no topic: a question's key terms are what remains.
STOP = frozenset(
    "a an and are as at be but by can could do does did for from get got has have how i if in is it its me my of on or "
    "so than that the their then there these they this to was what when where which who why will with would you your "
    "i'm im am any some please tell know want need there's what's whats it's its also just still about into use using "
    "used one much many help thanks thank hi hello hey okay ok yes no not should shall must might may "
    "gonna wanna let lets make sure really actually please anyone someone something anything "
    "our ours we us mine yours them way instead".split()) | frozenset(
    "뭐 뭐예 뭐예요 무엇 어떻게 어떤 왜 어디 언제 누가 있나 있나요 하나 하나요 인가 인가요 되나 되나요 알려 주세요 가요 나요 "
    "제가 저는 제 저 이거 그거 이것 그것 혹시 좀 정말 그냥".split())
KO_ENDING = re.compile(r"(?:습니다|니다|세요|어요|아요|에요|예요|나요|는지|게|는|은|을|를|고|며|면|서|요)$")
KO_PARTICLE = re.compile(r"(?:으로|에서|이랑|까지|부터|에게|한테|은|는|이|가|을|를|도|로|의|에|와|과|랑|만|요|나요|가요|까요|인가요|인데|이에요|예요)$")
QUANTITY = re.compile(r"\d[\d,.]*\s*(?:credits?|크레딧|seconds?|secs?|s\b|초|minutes?|mins?|분|%|won|원|\$|usd|images?|장|times|회|개|k\b"
                      r"|(?:business )?days?\b|영업일|일 ?(?:이내|동안|후)|hours?|시간|weeks?|주일?\b|months?|개월|years?\b|seats?|members?|people|명|[kmg]b\b|p\b|fps)", re.I)


# Kinds of question (knowledge/cues.yaml question_forms) a page answers even when a model is named.
HOW_QUESTIONS = frozenset({"how_to", "where", "why", "how_long", "what_is"})


class Action(StrEnum):
    """How the bot answers a turn."""

    DOCS = "docs"
    VERDICT = "verdict"
    TABLE = "table"
    CLARIFY = "clarify"
    NOT_COVERED = "not_covered"
    HANDOFF = "handoff"
    OFF_TOPIC = "off_topic"
    REFUSE = "refuse"
    DATE_PROBLEM = "date_problem"


@dataclass
class Ranked:
    """A retrieved passage with how well it answers this question."""

    hit: Hit
    score: float
    coverage: float
    title: float
    entities: float
    rare_found: bool = True  # the question's rarest word (or its help-center synonym) is in the passage
    form: bool = False  # the heading asks the same kind of question ("How do I ...?" ~ "How to ...")


@dataclass
class Decision:
    """What to do with a turn, and with which models or passages."""

    action: Action
    models: list[ModelKey] = field(default_factory=list)
    passages: list[Ranked] = field(default_factory=list)
    reason: str = ""  # why a person is offered: human, money, frustration, not_covered
    injection: bool = False
    general_first: bool = False  # a model question without facts: the help center's answer, then ask
    until_when: bool = False
    unknown_name: str = ""  # a product the question names that the help center does not
    amount: bool = False  # asks how many credits or how long: the pages give no figure, only what they do say


def key_terms(text: str, lang: str) -> list[str]:
    """Return the words that carry a question's topic (stop words and Korean particles removed)."""
    out = []
    for word in re.findall(r"[\w']+", text.lower()):
        if re.search(r"[\uac00-\ud7a3]", word):
            word = KO_PARTICLE.sub("", word)
            if word in STOP:
                continue
            stem = KO_ENDING.sub("", word) if len(word) > 2 else word
            if len(stem) >= 2 and stem not in STOP:
                out.append(stem)
        elif word not in STOP and (len(word) > 2 or re.match(r"\d+[a-z]", word)) and not word.isdigit():
            out.append(word)  # "3d" and "4k" carry a topic too
    return list(dict.fromkeys(out))


def overlap(a: list[str], b: list[str]) -> float:
    """Return how much two sets of key terms share, both ways (a question and a heading)."""
    if not a or not b:
        return 0.0
    a_text, b_text = " ".join(a), " ".join(b)
    a_words, b_words = Words(a_text), Words(b_text)
    there = sum(covers(t, b_words, b_text) for t in a) / len(a)
    back = sum(covers(t, a_words, a_text) for t in b) / len(b)
    return (there + back) / 2


# A product name the help center may not know: "DALL-E 3", "Stable Diffusion", "Ideogram" (not at a sentence start).
PRODUCT = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w-]*(?:[- ][A-Z0-9][\w.-]*)*(?:\s\d+(?:\.\d+)?)?)")


def covers(term: str, words: Words, text: str) -> bool:
    """Return True when a passage has a term, in any inflection ('paying' ~ 'pay', '크레딧이' ~ '크레딧')."""
    if re.search(r"[\uac00-\ud7a3]", term):
        return term[:2] in text
    return words.has_stem(term[:5] if len(term) > 5 else term.rstrip("s"))


class Words:
    """A passage's words, sorted once: is there a word starting with a stem, or a 4+ letter word the stem starts with?"""

    def __init__(self, text: str) -> None:
        self.set = frozenset(re.findall(r"[\w']+", text))
        self.sorted = sorted(self.set)

    def has_stem(self, stem: str) -> bool:
        at = bisect.bisect_left(self.sorted, stem)
        if at < len(self.sorted) and self.sorted[at].startswith(stem):
            return True
        return any(stem[:n] in self.set for n in range(4, len(stem) + 1))


class Policy:
    """Decide each turn's action; inputs are data (catalog, cue words, page vocabulary) and settings."""

    def __init__(self, engine: Engine, cues: dict[str, Cues], settings: Settings,
                 rarity: Callable[[str], float] | None = None, english: Callable[[str], str] | None = None,
                 pairs: Callable[[str], list[tuple[str, str]]] | None = None,
                 seen: Callable[[str], bool] | None = None) -> None:
        self.engine = engine
        self.cues = cues
        self.settings = settings
        self.rarity = rarity or (lambda word: 1.0)
        self.english = english or (lambda text: "")  # a Korean question's words in English (knowledge/glossary.yaml)
        self.pairs = pairs or (lambda text: [])
        self.seen = seen or (lambda word: False)  # the word appears somewhere on the pages
        # What a passage says does not change between questions: read its words and models once.
        self._words = lru_cache(maxsize=16384)(lambda body: Words(body))
        self._models_in = lru_cache(maxsize=16384)(
            lambda text: frozenset(m.model_id for m in self.engine.catalog.find_models_in_text(text, fuzzy=False)))

    def cue(self, lang: str) -> Cues:
        """Return the cue words of a language (English when there are none)."""
        return self.cues.get(lang) or self.cues["en"]

    # --- models ---------------------------------------------------------------------------
    def models_asked(self, turn: Turn) -> tuple[list[ModelKey], bool]:
        """Return the models this message asks about (named, pending or earlier) and whether it asks 'until when'."""
        spec = self.engine.book.spec.models
        named = list(dict.fromkeys((m.model_id, m.variant) for m in turn.facts.models if spec[m.model_id].kind != "agent"))
        c = self.cue(turn.lang)
        until = c.has("until_when", turn.message) or turn.facts.as_of is not None
        if named:
            return named[: self.settings.max_models_per_answer], until
        pending = turn.state.pending
        if pending and pending.models and (turn.facts.has_profile_facts() or len(turn.message) < 60 or self._variant_only(turn)):
            return [(mid, vid or self._variant_in(turn.message, mid)) for mid, vid in pending.models], until
        last = turn.state.last_models
        if last and (turn.facts.has_profile_facts() or c.has("follow_up", turn.message) or until or self._variant_only(turn)):
            return [(mid, self._variant_in(turn.message, mid) or vid) for mid, vid in last], until
        return [], until

    def _variant_only(self, turn: Turn) -> bool:
        """Return True for a message that only names a variant ('2K', 'the 4K one')."""
        models = turn.state.pending.models if turn.state.pending else turn.state.last_models
        return any(self._variant_in(turn.message, mid) for mid, _ in models) and len(turn.message) < 30

    def _variant_in(self, message: str, model_id: str) -> str | None:
        for vid, spec in self.engine.book.spec.models[model_id].variants.items():
            for name in (spec.name, vid, *spec.aliases, *((spec.ko,) if spec.ko else ())):
                if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message, re.I):
                    return vid
        return None

    # --- passages -----------------------------------------------------------------------
    def rank(self, turn: Turn, hits: list[Hit]) -> list[Ranked]:
        """Order passages by how well they answer: search score, question-to-title likeness, key terms, the models named."""
        if not hits:
            return []
        top = max(h.score for h in hits) or 1.0
        own = key_terms(turn.message, turn.lang)
        # The help center's words for each of the question's (knowledge/glossary.yaml): "dropping" ~ "going down",
        # "환불" ~ "refund" (how a Korean question is read against an English page).
        pairs = self.pairs(turn.message)
        synonyms = {t: re.findall(r"[\w']+", self.english(t).lower())
                    + [w for key, value in pairs if t in key.lower().split() or t == key.lower() for w in re.findall(r"[\w']+", value.lower())]
                    for t in own}
        named = {m.model_id for m in turn.facts.models}
        out = []
        weights = {t: max(self.rarity(t), 0.1) for t in own}
        total = sum(weights.values()) or 1.0
        # The rarest word must be there. In a passage in another language, only a word we can read there counts
        # (an English word, or one the glossary translates); in the question's own language, every word does.
        readable = [t for t in own if t.isascii() or synonyms[t]]

        def rarest_of(terms: list[str]) -> list[str]:
            top_weight = max((weights[t] for t in terms), default=0.0)
            return [t for t in terms if weights[t] >= top_weight - 1e-9]  # words equally rare (none on any page): all

        rarest = rarest_of(readable)
        rarest_same = rarest_of(own)  # a passage in the question's language can be read word for word
        # Pages with a section among the hits: there, the page's opening lines only introduce what a section says.
        sectioned = {h.section_id.split("#", 1)[0] for h in hits if "#" in h.section_id}
        rules_page = self.engine.book.spec.source.page.partition("/")[2]  # without its language folder
        asked_forms = self.cue(turn.lang).forms_of(turn.message)
        for h in hits:
            cross = h.lang != turn.lang
            body = f"{h.section} {h.text}".lower()
            words = self._words(body)

            def has(t: str) -> bool:
                return ((not cross or t.isascii()) and covers(t, words, body)) or any(covers(x, words, body) for x in synonyms[t])

            # Rare words count most: "daily credits" is not answered by a passage about credits.
            found = [t for t in own if has(t)]
            coverage = sum(weights[t] for t in found) / total if own else 0.0
            rare_found = all(t in found for t in (rarest if cross else rarest_same))
            terms = [t for t in own if not cross or t.isascii()] + [x for t in own if cross for x in synonyms[t]]
            title = (h.section or h.page_title).split(" › ")[-1]
            title_sim = overlap(terms, key_terms(title, h.lang))
            form = False
            if "#" not in h.section_id:
                title_sim = 0.0  # a page's opening lines carry the page title, which names the page, not this passage
            elif asked_forms and h.section:
                form = bool(asked_forms & self.cue(h.lang).forms_of(title))
            if named:
                entities = len(named & self._models_in(h.text)) / len(named)
            else:
                entities = 0.0
            w = self.settings
            dense = max(0.0, (h.dense - 0.8) / 0.1)  # e5 similarities of related passages sit between 0.8 and 0.9
            score = (h.score / top + w.rank_dense * dense + w.rank_title * title_sim + w.rank_coverage * coverage
                     + w.rank_entities * entities + w.rank_form * form)
            if "#" not in h.section_id and h.section_id in sectioned:
                score -= w.rank_intro_penalty
            if not cross:
                score += w.rank_same_language  # a page in the customer's language, when one says as much
            if h.kind == "table_row" and not named and h.section_id.split("#", 1)[0].partition("/")[2] == rules_page \
                    and self._models_in(h.text[:80]):
                score -= w.rank_row_unasked  # a row of the rules' page about one model answers a question about that model
            if h.kind == "card":
                score -= 0.5  # a related-article card points elsewhere; it never leads
            if h.disputed:
                score -= 0.5  # another page (the one the rules cite) says it differently: that one leads
            out.append(Ranked(h, score, coverage, title_sim, entities, rare_found, form))
        return sorted(out, key=lambda r: -r.score)

    def answerable(self, turn: Turn, ranked: list[Ranked]) -> list[Ranked]:
        """Return the passages that answer the question (best first); none means the help center does not cover it."""
        c = self.cue(turn.lang)
        amount = c.has("amount", turn.message)
        out = []
        for r in ranked:
            if r.hit.kind == "card":
                continue
            close = r.hit.dense >= self.settings.answer_min_dense
            # On point: the question's rare words are there, or the heading asks the same, or the meaning is very close.
            close_enough = r.hit.dense >= self.settings.answer_close_dense
            # A passage only loosely related must at least have the question's rarest word ("offline", "3D", "daily").
            on_point = (((r.rare_found or close_enough)
                         and (r.coverage >= self.settings.answer_min_coverage or r.title >= self.settings.answer_min_title
                              or (close_enough and r.coverage >= self.settings.answer_min_coverage / 2)))
                        or r.hit.dense >= self.settings.answer_sure_dense)
            # Far ahead of every other passage and close in meaning: the question is this passage's, in other words;
            # further ahead still, a little less close will do ("the minimum number of seats" ~ "at least 3 seats").
            lead = r.score - ranked[1].score if r is ranked[0] and len(ranked) > 1 else None
            alone = lead is not None and (
                (close_enough and lead >= self.settings.answer_lead_margin)
                or (r.hit.dense >= self.settings.answer_far_dense and lead >= self.settings.answer_far_margin))
            # A page in another language whose words cannot be read here: meaning alone decides, when the
            # passages found first all come from that page.
            if r is ranked[0] and r.hit.lang != turn.lang and r.coverage == 0 and r.hit.dense >= self.settings.answer_cross_dense:
                page = r.hit.section_id.split("#", 1)[0]
                alone = alone or sum(x.hit.section_id.split("#", 1)[0] == page for x in ranked[:4]) >= 3
            if not (close and (on_point or alone)):
                continue
            if amount and not QUANTITY.search(r.hit.text):
                continue  # "how many credits does X cost": only a passage with a figure answers
            out.append(r)
        return out

    def on_topic(self, turn: Turn, vocabulary: frozenset[str], ranked: list[Ranked]) -> bool:
        """Return True when a message is about this product: a model or plan, a domain word, a heading's word."""
        if turn.facts.models or turn.facts.has_profile_facts():
            return True
        c = self.cue(turn.lang)
        if c.has("domain", turn.message) or self.cue("en").has("domain", turn.message):
            return True
        # A Korean message's words also count in English (the glossary): the headings may be English only.
        terms = set(tokenize(turn.message)) | set(tokenize(self.english(turn.message)))
        if len(terms & vocabulary) >= 2:
            return True
        return bool(ranked) and ranked[0].hit.dense >= self.settings.off_topic_unless

    # --- the decision ---------------------------------------------------------------------
    def decide(self, turn: Turn, hits: list[Hit], vocabulary: frozenset[str]) -> Decision:
        """Return how to answer this turn."""
        if turn.facts.date_problem:
            return Decision(Action.DATE_PROBLEM)
        c = self.cue(turn.lang)
        text = turn.message
        injection = c.has("injection", text)
        models, until = self.models_asked(turn)
        ranked = self.rank(turn, hits)
        answers = self.answerable(turn, ranked)
        if c.has("handoff", text) and not models:
            return Decision(Action.HANDOFF, reason="human")
        if c.has("money", text) and not models:
            return Decision(Action.HANDOFF, passages=answers[:1], reason="money")
        if c.has("frustration", text) and not models:
            return Decision(Action.HANDOFF, reason="frustration")
        amount = c.has("amount", text) and not self._asks_eligibility(turn)
        if models and amount and any(QUANTITY.search(r.hit.text) for r in answers):
            return Decision(Action.DOCS, passages=answers[:2])  # a page states the figure asked for
        if (turn.facts.models and answers and not until and not self._asks_eligibility(turn)
                and not c.has("eligibility_words", text) and c.forms_of(text) & HOW_QUESTIONS):
            # "How do I use Carat Video in Agent 2?": how to use a model, not whether it is unlimited for you.
            return Decision(Action.DOCS, passages=answers[:2])
        if models:
            named = bool(turn.facts.models)
            general = turn.profile.is_empty() and not until
            return Decision(Action.VERDICT, models, answers[:1] if general else [], injection=injection,
                            general_first=general, until_when=until and not named, amount=amount)
        if injection:
            return Decision(Action.REFUSE, injection=True)
        # "Where can I see the list of unlimited models?" asks for a page, not for this customer's table.
        wants_table = ((c.has("profile_table", text) or self.cue("en").has("profile_table", text))
                       and "where" not in c.forms_of(text))
        asks = bool(re.search(r"\?|^\s*(?:why|how|what|where|when|which|can|could|does|do|is|are|should)\b|왜|어떻게|무엇|뭐|어디|언제|나요|까요|인가요", text, re.I))
        facts_only = turn.facts.has_profile_facts() and not asks
        if wants_table or (facts_only and not answers):
            return Decision(Action.TABLE)
        unknown = self.unknown_product(turn, vocabulary)
        # A passage that answers makes a question on topic, whatever its words ("a discount for students?").
        if not unknown and not answers and not self.on_topic(turn, vocabulary, ranked):
            return Decision(Action.OFF_TOPIC)
        if unknown:
            # "Is DALL-E 3 unlimited?": never a verdict for a name the rules do not know.
            return Decision(Action.NOT_COVERED, passages=answers[:1], reason="not_covered", unknown_name=unknown)
        if answers:
            return Decision(Action.DOCS, passages=answers[:2])
        return Decision(Action.NOT_COVERED, reason="not_covered")

    def mentions_eligibility(self, turn: Turn) -> bool:
        """Return True when a message uses a word of benefits or cost (unlimited, free, credits; in its language or English)."""
        return self.cue(turn.lang).has("eligibility_words", turn.message) or self.cue("en").has("eligibility_words", turn.message)

    def _asks_eligibility(self, turn: Turn) -> bool:
        """Return True when a message asks whether something is unlimited or free (not how much it costs)."""
        return bool(re.search(r"\bunlimited\b|\bfree\b|무제한|무료|\bincluded\b|\bcovered\b", turn.message, re.I))

    def unknown_product(self, turn: Turn, vocabulary: frozenset[str]) -> str:
        """Return a product name the customer asks about that neither the catalog nor the pages know."""
        c = self.cue(turn.lang)
        if turn.facts.unknown_versions and not turn.facts.models:
            # "what about Kling 2.5?": a known model, a version the pages do not name.
            return max(turn.facts.unknown_versions, key=len)
        asked = self.mentions_eligibility(turn)
        plans = {n.casefold() for names in self.engine.catalog.plan_spellings().values() for n in names}
        words = re.findall(r"[a-z][a-z0-9-]+", turn.message.lower())
        if len(words) <= 6 and re.search(r"\b(?:or|vs|versus|and)\b", turn.message, re.I):
            # "ideogram or recraft?": names the help center never uses, asked about side by side.
            strange = [w for w in words if w not in STOP and w not in vocabulary and w not in plans
                       and w not in ("or", "vs", "versus", "and") and not self.cue("en").has("domain", w)]
            if strange and len(strange) >= len(words) - 3:
                return " / ".join(strange)
        for m in PRODUCT.finditer(turn.message) if asked else ():
            name = m.group(1).strip()
            words = [w.lower() for w in re.findall(r"[A-Za-z]+", name)]
            if len(name) < 3 or not words or name.casefold() in plans or \
                    all(w in vocabulary or w in STOP or w in plans or self.seen(w) for w in words):
                continue  # every word is on the pages ("Carat"), a plan or a common word: not a product they lack
            return name
        return ""
