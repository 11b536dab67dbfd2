"""Catalog of models, plans and billing cycles, with exact and fuzzy name lookup."""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.errors import InputError
from bot.eligibility.schema import ModelSpec, RulesFile

_NON_WORD = re.compile(r"[\W_]+", re.U)
_TOKEN = re.compile(r"[^\W_]+", re.U)
_DIGITS = re.compile(r"\d")
_HANGUL_END = re.compile(r"[\uac00-\ud7a3]$")
# A typo must still look very much like the name: ratio of the compacted strings.
NAME_CUTOFF = 85.0
TEXT_CUTOFF = 88.0
MIN_FUZZY_LEN = 4
MIN_TEXT_FUZZY_LEN = 5
SUGGEST_CUTOFF = 55.0
# Korean particles glued to a name ("나노바나나 프로는", "시드림으로"); longest first.
_PARTICLES = ("으로", "에서", "이랑", "은", "는", "이", "가", "을", "를", "도", "로", "의", "에", "와", "과", "랑", "만", "요")

Target = tuple[str, str | None]


@lru_cache(maxsize=4096)
def compact(text: str) -> str:
    """Return text folded for matching: NFKC, no case, no spaces, hyphens, dots or brackets."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _strip_particle(key: str) -> str:
    """Return key without a trailing Korean particle, or key itself if it has none."""
    for particle in _PARTICLES:
        if key.endswith(particle) and len(key) > len(particle):
            return key[: -len(particle)]
    return key


def _is_version(token: str) -> bool:
    """Return True for a short bare number such as the '3' of 'Nanobanana 3' (not a year)."""
    return token.isdigit() and len(token) <= 2


def _digits(key: str) -> str:
    """Return the digits of a key; version numbers must match exactly, never fuzzily."""
    return "".join(_DIGITS.findall(key))


@dataclass(frozen=True)
class Mention:
    """A model name found inside free text."""

    model_id: str
    variant: str | None
    start: int
    end: int
    text: str
    score: float


class Catalog:
    """Names of everything the rules talk about, and how customers spell them."""

    def __init__(self, spec: RulesFile) -> None:
        self.models: dict[str, ModelSpec] = dict(spec.models)
        self.kinds: dict[str, str] = {k: v.name for k, v in spec.kinds.items()}
        self.plan_names = {pid: p.name for pid, p in spec.plans.items()}
        self._plan_spellings = {pid: (p.name, pid, *((p.ko,) if p.ko else ()), *p.aliases) for pid, p in spec.plans.items()}
        self.billing_names = {bid: b.name for bid, b in spec.billing.items()}
        self._plans = _name_table({pid: (p.name, *p.aliases) for pid, p in spec.plans.items()})
        self._billing = _name_table({bid: (b.name, *b.aliases) for bid, b in spec.billing.items()})
        self.keys: dict[str, Target] = {}
        self.conflicts: list[tuple[str, str, Target, Target]] = []
        self._max_tokens = 1
        for mid, model in spec.models.items():
            names = (mid, model.name, *((model.ko,) if model.ko else ()), *model.aliases)
            for name in names:
                self._add(compact(name), (mid, None), name)
                self._max_tokens = max(self._max_tokens, len(_TOKEN.findall(name)) + 1)
            for vid, variant in model.variants.items():
                for vname in {vid, variant.name, *((variant.ko,) if variant.ko else ()), *variant.aliases}:
                    for name in names:
                        self._add(compact(name) + compact(vname), (mid, vid), f"{name} {vname}")
        self._prefixes = {key[:n] for key in self.keys for n in range(1, len(key) + 1)}
        self._by_digits: dict[str, list[str]] = defaultdict(list)
        for key in self.keys:
            self._by_digits[_digits(key)].append(key)

    def _add(self, key: str, target: Target, name: str) -> None:
        """Record one spelling; remember it if it already means something else."""
        if not key:
            return
        old = self.keys.setdefault(key, target)
        if old != target:
            self.conflicts.append((name, key, old, target))

    # --- models -------------------------------------------------------------------
    def display(self, model_id: str, variant: str | None = None) -> str:
        """Return the customer-facing name of a model and variant."""
        model = self.models[model_id]
        return f"{model.name} {model.variants[variant].name}" if variant else model.name

    def resolve_model(self, text: str) -> Target:
        """Return (model_id, variant or None) for a name, tolerating small typos."""
        key = compact(text or "")
        if not key:
            raise InputError("name a model, e.g. 'Seedream 4.0' or 'Nanobanana Pro 4K'")
        bare = _strip_particle(key)
        for candidate in (key, bare):
            if candidate in self.keys:
                return self.keys[candidate]
        # "nanobanana pro 8k": a known model followed by a variant it does not have.
        words = [compact(t) for t in _TOKEN.findall(text)]
        for k in range(len(words) - 1, 0, -1):
            head = self.keys.get("".join(words[:k]))
            if head and head[1] is None and self.models[head[0]].variants:
                return head[0], self.resolve_variant(head[0], " ".join(words[k:]))
        found = self._fuzzy(key, NAME_CUTOFF, MIN_FUZZY_LEN) or self._fuzzy(bare, NAME_CUTOFF, MIN_FUZZY_LEN)
        if found is None:
            raise InputError(self._unknown_model_message(text), suggestions=self.suggest(text))
        return found[0]

    def _fuzzy(self, key: str, cutoff: float, min_len: int, same_start: bool = False) -> tuple[Target, float] | None:
        """Return the single closest spelling above cutoff; ties between models mean no match."""
        if len(key) < min_len:
            return None
        choices = self._by_digits.get(_digits(key), ())
        if same_start:
            choices = [c for c in choices if c[0] == key[0]]
        best = process.extract(key, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=8)
        if not best:
            return None
        top = self.keys[best[0][0]]
        rivals = [self.keys[k] for k, score, _ in best[1:] if score >= best[0][1] - 1.0]
        if any(r != top for r in rivals):
            return None
        return top, best[0][1]

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Return display names of the models closest to text, best first."""
        key = compact(text or "")
        out: list[str] = []
        for match, _, _ in process.extract(key, list(self.keys), scorer=fuzz.WRatio, score_cutoff=SUGGEST_CUTOFF, limit=30):
            name = self.display(self.keys[match][0])
            if name not in out:
                out.append(name)
            if len(out) == limit:
                break
        return out

    def _unknown_model_message(self, text: str) -> str:
        """Return the error text for a model the catalog does not know."""
        hints = self.suggest(text)
        hint = f"; did you mean {', '.join(repr(h) for h in hints)}?" if hints else "."
        return f"unknown model {text!r}{hint} Run 'python -m bot eligibility --profile' to see every model"

    def resolve_variant(self, model_id: str, text: str) -> str:
        """Return the variant id of a model for a spelling like '4k' or 'Medium'."""
        model = self.models[model_id]
        key = compact(text)
        for vid, variant in model.variants.items():
            if key in {compact(vid), compact(variant.name), *map(compact, variant.aliases)}:
                return vid
        if not model.variants:
            raise InputError(f"{model.name} has no variants; leave the variant out")
        names = ", ".join(v.name for v in model.variants.values())
        raise InputError(f"unknown variant {text!r} for {model.name}; its variants are: {names}", variants=list(model.variants))

    def find_models_in_text(self, text: str, fuzzy: bool = True, unknown_versions: list[str] | None = None) -> list[Mention]:
        """Return model names spotted in free text, longest exact names first, then typos.

        A known name followed by a version the help center does not name ("Kling 2.5") is not a mention; it is
        added to `unknown_versions` when a list is given.
        """
        tokens = list(_TOKEN.finditer(text))
        spans: list[tuple[int, int, str]] = []
        exact = []
        for i in range(len(tokens)):
            key = ""
            for j in range(i, min(len(tokens), i + self._max_tokens)):
                key += compact(tokens[j].group())
                if fuzzy:
                    spans.append((i, j, key))
                # Only Korean words carry particles; stripping them elsewhere would cost much and find nothing.
                target = self.keys.get(key) or (self.keys.get(_strip_particle(key)) if _HANGUL_END.search(key) else None)
                if target:
                    exact.append((i, j, target))
                if not fuzzy and key not in self._prefixes:
                    break  # no name starts like this: longer spans cannot match either
        taken = [False] * len(tokens)
        found: list[Mention] = []
        exact.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
        def version_follows(j: int) -> bool:
            # "nanobanana 3" or "veo 3.1" is a version the page does not name (but "Sora 2, 8 s" is not).
            return j + 1 < len(tokens) and _is_version(tokens[j + 1].group()) and \
                text[tokens[j].end():tokens[j + 1].start()] in (" ", ".")

        for i, j, target in exact:
            if version_follows(j):
                if unknown_versions is not None and not any(taken[i : j + 2]):
                    version = re.match(r"[\w.]*\w", text[tokens[j + 1].start():])  # "2.5", not "2"
                    unknown_versions.append(text[tokens[i].start():tokens[j + 1].start() + len(version.group() if version else "")])
                continue
            if not any(taken[i : j + 1]):
                taken[i : j + 1] = [True] * (j - i + 1)
                found.append(self._mention(text, tokens, i, j, target, 100.0))
        if fuzzy:
            guesses = []
            for i, j, key in spans:
                if any(taken[i : j + 1]) or version_follows(j):
                    continue
                if j > i and any(len(tokens[t].group()) <= 2 and tokens[t].group().isalpha() for t in range(i, j + 1)):
                    continue  # "sort a" is not a typo of "Sora": a guess never spans a short word
                hit = self._fuzzy(_strip_particle(key), TEXT_CUTOFF, MIN_TEXT_FUZZY_LEN, same_start=True)
                if hit:
                    guesses.append((hit[1], j - i, i, j, hit[0]))
            # The best-scoring reading wins; among equals the longer span.
            for score, _, i, j, target in sorted(guesses, key=lambda g: (-g[0], -g[1], g[2])):
                if not any(taken[i : j + 1]):
                    taken[i : j + 1] = [True] * (j - i + 1)
                    found.append(self._mention(text, tokens, i, j, target, score))
        return sorted(found, key=lambda m: m.start)

    @staticmethod
    def _mention(text: str, tokens: list[re.Match[str]], i: int, j: int, target: Target, score: float) -> Mention:
        """Build a Mention for tokens i..j."""
        start, end = tokens[i].start(), tokens[j].end()
        return Mention(target[0], target[1], start, end, text[start:end], round(score, 1))

    # --- plans and billing --------------------------------------------------------
    def plan_spellings(self) -> dict[str, tuple[str, ...]]:
        """Return every spelling of every plan, by plan id."""
        return self._plan_spellings

    def resolve_plan(self, text: str) -> str:
        """Return the plan id for a plan name in any case or language listed."""
        return _lookup(self._plans, text, "plan", self.plan_names)

    def resolve_billing(self, text: str) -> str:
        """Return the billing id for 'monthly', 'Annual', 'yearly' and the like."""
        return _lookup(self._billing, text, "billing cycle", self.billing_names)


def _name_table(names: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Return compacted spelling -> id, including the id itself."""
    table: dict[str, str] = {}
    for ident, spellings in names.items():
        for spelling in (ident, *spellings):
            table[compact(spelling)] = ident
    return table


def _lookup(table: dict[str, str], text: str, what: str, names: dict[str, str]) -> str:
    """Return the id spelled by text, or raise an InputError listing the choices."""
    key = compact(text or "")
    if key in table:
        return table[key]
    valid = ", ".join(names.values())
    close = process.extractOne(key, list(table), scorer=fuzz.ratio, score_cutoff=70.0) if key else None
    hint = f"; did you mean {names[table[close[0]]]!r}?" if close else "."
    raise InputError(f"unknown {what} {text!r}{hint} Choose one of: {valid}")
