"""Korean particles that fit the word they follow ("시드림 4.0은", "소라 2는"), for names in any script."""
from __future__ import annotations

import re

import tossi

# How an uppercase letter is read aloud, as the final sound of an acronym ("LTX" ends in 엑스).
_LETTER_CODA = {"L": "ㄹ", "R": "ㄹ", "M": "ㅁ", "N": "ㄴ"}
# Final sounds of English words as Korean writes them: "Premium" 프리미엄, "Soul" 소울, "Kling" 클링.
_WORD_CODA = (("ng", "ㅇ"), ("m", "ㅁ"), ("n", "ㄴ"), ("l", "ㄹ"), ("ck", "ㄱ"), ("k", "ㄱ"), ("p", "ㅂ"), ("b", "ㅂ"))
# A syllable with each final sound, for tossi to choose the particle by.
_PROXY = {"": "가", "ㄹ": "갈", "ㅁ": "감", "ㄴ": "간", "ㅇ": "강", "ㄱ": "각", "ㅂ": "갑"}
_TRAILING = re.compile(r"(\s*\([^()]*\)|[\s\"'”’»)\].,!?*]+)+$")
_LAST_WORD = re.compile(r"([A-Za-z]+|\d+(?:\.\d+)?|[\uac00-\ud7a3]+)$")


def _reading(word: str) -> str:
    """Return a short word whose final sound is the one `word` is read with."""
    core = _TRAILING.sub("", word) or word
    m = _LAST_WORD.search(core)
    if m is None:
        return core
    last = m.group(1)
    if not last.isascii() or last[0].isdigit():
        return last  # Hangul and numbers: tossi reads them itself
    if last.isupper() and len(last) <= 4:
        return _PROXY[_LETTER_CODA.get(last[-1], "")]
    lower = last.lower()
    if len(lower) > 2 and lower.endswith("e") and lower[-2] not in "aeiouy":
        lower = lower[:-1]  # a silent final e: "Imagine" is read 이매진
    coda = next((c for end, c in _WORD_CODA if lower.endswith(end)), "")
    return _PROXY[coda]


def particle(word: str, morph: str) -> str:
    """Return the form of particle `morph` (e.g. '은', '이', '(으)로', '과') that follows `word`."""
    return str(tossi.pick(_reading(word), morph))


def attach(word: str, morph: str) -> str:
    """Return `word` followed by the right form of particle `morph`."""
    return word + particle(word, morph)
