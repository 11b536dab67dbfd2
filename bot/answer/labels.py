"""UI labels as the help center writes them, shown in the customer's language."""
from __future__ import annotations

import re

from bot.types import Language

HANGUL = re.compile(r"[\uac00-\ud7a3]")

# An English page names a button with its Korean label too, "[Agent 1.0(에이전트 1.0)]": a customer reads one of them.
UI_LABEL = re.compile(r"\\?\[([^\[\]()\n]+?)\(([^()\[\]\n]+)\)\\?\]")


def localize_labels(text: str, lang: Language) -> str:
    """Return text with each two-language UI label ('[Home(홈)]') in the customer's language only."""
    def pick(m: re.Match[str]) -> str:
        first, second = m.group(1).strip(), m.group(2).strip()
        if bool(HANGUL.search(first)) == bool(HANGUL.search(second)):
            return m.group(0)  # not a label pair: "[Seedream 4.0(2K)]" stays as written
        korean, english = (first, second) if HANGUL.search(first) else (second, first)
        return f"[{korean if lang == 'ko' else english}]"

    return UI_LABEL.sub(pick, text)
