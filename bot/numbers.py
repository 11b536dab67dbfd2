"""Find dates, numbers (with their units) and links in text, so an answer can be checked against its sources (pure)."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DASH = r"\s*(?:-|–|—|~|to|through)\s*"
URL = re.compile(r"(?:https?://|www\.|\b[a-z0-9-]+\.(?:im|com|io|ai)/)[^\s)\]>\"'`]*", re.I)
LIST_MARKER = re.compile(r"^\s*\d+[.)]\s|\[\d{1,2}\]", re.M)  # list items and citation marks like [1]
# A sample date shown to explain a format ("for example 2026-03-01") states no fact.
EXAMPLE = re.compile(r"(?:for example|for instance|e\.g\.|예:|예를 들어)\s*\d{4}-\d{2}-\d{2}", re.I)
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\w.])\d+(?:\.\d+)?(?![\d])")
# A number is a claim together with what it counts: "2 credits" is not supported by the 2 of "Agent 2.0".
UNITS = [
    ("credit", r"credits?|크레딧"), ("year", r"years?|년(?!\s*\d)|년간"), ("month", r"months?|개월|달"), ("day", r"days?|일(?!\s*\d)"),
    ("percent", r"%|percent|퍼센트"), ("money", r"won|원|usd|dollars?|\$"), ("times", r"times|x(?![a-z])|배"),
    ("image", r"images?|장"), ("second", r"seconds?|secs?|초"), ("minute", r"minutes?|mins?|분"),
]
QUANTITY = re.compile(r"(?P<n>(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\w.])\d+(?:\.\d+)?)\s*(?P<unit>"
                      + "|".join(f"(?P<{name}>{rx})" for name, rx in UNITS) + r")(?![a-z가-힣])", re.I)

# Each pattern yields (year, month, day, day_to); missing parts are None. Longest forms first.
DATE_PATTERNS = [
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?P<y>\d{4})[./](?P<m>\d{1,2})[./](?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?P<y>\d{4})년\s*(?P<m>\d{1,2})월\s*(?P<d>\d{1,2})일?(?:" + _DASH + r"(?P<d2>\d{1,2})일)?"),
    re.compile(r"(?P<y>\d{4})년\s*(?P<m>\d{1,2})월"),
    re.compile(r"(?<!\d)(?P<m>\d{1,2})월\s*(?P<d>\d{1,2})일(?:" + _DASH + r"(?P<d2>\d{1,2})일)?(?:,?\s*(?P<y>\d{4})년)?"),
    re.compile(r"\b" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:" + _DASH + r"(?:" + _MONTH.replace("mon", "mon2")
               + r"\s+)?(?P<d2>\d{1,2})(?:st|nd|rd|th)?)?(?:,?\s*(?P<y>\d{4}))?(?!\d)", re.I),
    re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<y>\d{4})\b", re.I),
    re.compile(r"\b" + _MONTH + r",?\s+(?P<y>\d{4})\b", re.I),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})(?![\d-])"),
]


@dataclass(frozen=True)
class DateClaim:
    """A date found in text: the words, and the normalised key that must be supported."""

    text: str
    key: str  # "2026-02-25", "2026-02" or "02-25"


def _month(groups: dict[str, str | None], name: str = "mon") -> int | None:
    """Return the month number of a named or numeric month group."""
    if groups.get(name):
        return MONTHS.get(groups[name].lower()[:3])
    if name == "mon" and groups.get("m"):
        return int(groups["m"])  # type: ignore[arg-type]
    return None


def _keys(groups: dict[str, str | None]) -> list[str]:
    """Return the date keys one match stands for (a range gives both ends)."""
    year = groups.get("y")
    month = _month(groups)
    if month is None or not 1 <= month <= 12:
        return []
    days = [groups.get("d"), groups.get("d2")]
    month2 = _month(groups, "mon2") or month
    out = []
    for n, day in enumerate(days):
        m = month2 if n == 1 else month
        if day is None:
            if n == 0:
                out.append(f"{year}-{m:02d}" if year else "")
            continue
        out.append(f"{year}-{m:02d}-{int(day):02d}" if year else f"{m:02d}-{int(day):02d}")
    return [k for k in out if k]


def find_dates(text: str) -> tuple[list[DateClaim], str]:
    """Return the dates in text and the text with them blanked out."""
    claims: list[DateClaim] = []
    for pattern in DATE_PATTERNS:
        def take(match: re.Match[str]) -> str:
            keys = _keys(match.groupdict())
            if not keys:
                return match.group(0)
            claims.extend(DateClaim(match.group(0), k) for k in keys)
            return " " * len(match.group(0))
        text = pattern.sub(take, text)
    return claims, text


def find_links(text: str) -> list[str]:
    """Return the links in text, without trailing punctuation."""
    return [m.group(0).rstrip(".,;:!?") for m in URL.finditer(text)]


def find_numbers(text: str) -> list[str]:
    """Return the numbers left in text once links, list markers and dates are removed."""
    text = LIST_MARKER.sub(" ", URL.sub(" ", text))
    _, text = find_dates(text)
    return [_number(m.group(0)) for m in NUMBER.finditer(text)]


def _number(raw: str) -> str:
    """Return a number without thousands separators."""
    return raw.replace(",", "")


def supported_facts(text: str) -> set[str]:
    """Return every date key, number and link a source text can support."""
    facts: set[str] = set()
    claims, rest = find_dates(text)
    for c in claims:
        facts.add(c.key)
        parts = c.key.split("-")
        if len(parts) == 3:
            facts |= {f"{parts[0]}-{parts[1]}", f"{parts[1]}-{parts[2]}", parts[0], str(int(parts[2]))}
        elif len(parts) == 2 and len(parts[0]) == 4:
            facts.add(parts[0])
        elif len(parts) == 2:
            facts.add(str(int(parts[1])))
    facts |= {_number(m.group(0)) for m in NUMBER.finditer(text)}
    facts |= {_number(m.group(0)) for m in NUMBER.finditer(rest)}
    facts |= {_link_key(u) for u in find_links(text)}
    return facts


def _link_key(url: str) -> str:
    """Return a link without scheme, 'www.' and trailing slash, for comparison."""
    url = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.strip().lower())
    return "link:" + url.rstrip("/")


def link_keys(text: str) -> set[str]:
    """Return the normalised links found in text."""
    return {_link_key(u) for u in find_links(text)}


PRICE = re.compile(r"(?:[$€£₩]|US\$|KRW\s?|USD\s?)\s?(?P<n>\d[\d,]*(?:\.\d+)?)", re.I)


def quantities(text: str) -> tuple[set[tuple[str, str]], str]:
    """Return the (number, unit) pairs of text ('2 credits' -> ('2', 'credit'); '$20' -> ('20', 'money'))."""
    found: set[tuple[str, str]] = set()

    def price(m: re.Match[str]) -> str:
        found.add((_number(m.group("n")), "money"))
        return " " * len(m.group(0))

    text = PRICE.sub(price, text)

    def take(m: re.Match[str]) -> str:
        unit = next(name for name, _ in UNITS if m.group(name))
        found.add((_number(m.group("n")), unit))
        return " " * len(m.group(0))

    return found, QUANTITY.sub(take, text)


def unsupported(answer: str, sources: str, known_links: set[str] | frozenset[str] = frozenset(),
                mask: Callable[[str], str] | None = None, masked_sources: str | None = None) -> list[str]:
    """Return the dates, quantities, numbers and links of answer that sources do not contain, in order.

    A link also counts as supported when it is one of known_links (a link the help center itself uses).
    A number is compared with its unit ("2 credits" needs "2 credits" in the sources); `mask` blanks the
    model names of a text first, so the 2 of "Agent 2.0" or the 4K of "Nanobanana Pro 4K" state nothing.
    """
    mask = mask or (lambda t: t)
    facts = supported_facts(sources) | set(known_links)
    source_body = LIST_MARKER.sub(" ", URL.sub(" ", masked_sources if masked_sources is not None else mask(sources)))
    _, source_rest = find_dates(source_body)
    source_quantities, source_bare = quantities(source_rest)
    bare_numbers = {_number(m.group(0)) for m in NUMBER.finditer(source_bare)}
    missing: list[str] = []
    for link in find_links(answer):
        if _link_key(link) not in facts and not any(f.startswith(_link_key(link) + "#") for f in facts):
            missing.append(link)
    body = mask(LIST_MARKER.sub(" ", URL.sub(" ", EXAMPLE.sub(" ", answer))))
    claims, rest = find_dates(body)
    for c in claims:
        if c.key not in facts:
            missing.append(c.text.strip())
    said, rest = quantities(rest)
    for n, unit in sorted(said):
        if (n, unit) not in source_quantities:
            missing.append(f"{n} {unit}{'s' if unit not in ('percent', 'money') and n != '1' else ''}")
    for n in (_number(m.group(0)) for m in NUMBER.finditer(rest)):
        if n not in bare_numbers and n not in facts:
            missing.append(n)
    return list(dict.fromkeys(missing))
