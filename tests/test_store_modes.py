"""Deployment modes of the index: a Chroma server on 127.0.0.1, and OpenAI embeddings over HTTP."""
from __future__ import annotations

from bot.retrieval import Retriever
from bot.store import Store, build_index


def test_index_and_search_through_a_chroma_server(settings, chroma_server: int) -> None:
    remote = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server})
    first = build_index(remote)
    assert first.embedded == first.chunks > 30
    assert build_index(remote).embedded == 0
    assert not remote.index_dir.exists()  # nothing was written to the embedded store
    hits = Retriever(Store(remote)).search("Is Seedream 4.0 unlimited?", k=3)
    assert hits[0].section_id.endswith("#image-models")


def test_openai_embeddings_when_configured(settings) -> None:
    from pydantic import SecretStr

    from tests.openai_stub import OpenAIStub

    with OpenAIStub(embedding_dim=16) as stub:
        cfg = settings.model_copy(update={"embeddings": "openai", "openai_base_url": stub.base_url,
                                          "openai_api_key": SecretStr("sk-test")})
        report = build_index(cfg)
        assert report.embedded == report.chunks and stub.embedding_requests
        hits = Retriever(Store(cfg)).search("Flux2 Pro", k=3)
        assert hits and any("Flux2 Pro" in h.text for h in hits)  # the lexical side still finds the row
