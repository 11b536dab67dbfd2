"""Beyond capacity a request is refused at once (503, Retry-After), and repeated questions reuse their vector."""
from __future__ import annotations

import threading
import time

import anyio
import numpy as np
import pytest

from bot.api import ApiError, Workers
from bot.retrieval import QueryCache


def test_a_full_queue_refuses_new_requests_at_once_but_finishes_started_ones() -> None:
    release = threading.Event()
    outcomes: list[object] = []

    async def main() -> None:
        workers = Workers(capacity=1, queue=1)

        async def call(admit: bool = True) -> None:
            try:
                outcomes.append(await workers.run(release.wait, 30, admit=admit))
            except ApiError as err:
                outcomes.append(err)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)  # runs
            await anyio.sleep(0.05)
            tg.start_soon(call)  # waits: the queue holds one
            await anyio.sleep(0.05)
            started = time.monotonic()
            await call()  # one too many: refused without waiting
            refused_after = time.monotonic() - started
            tg.start_soon(call, False)  # the next piece of a started answer is never refused
            await anyio.sleep(0.05)
            release.set()
        assert refused_after < 5  # it did not wait for the blocked worker (which waits up to 30 s)

    anyio.run(main)
    errors = [o for o in outcomes if isinstance(o, ApiError)]
    assert len(errors) == 1 and errors[0].status == 503 and errors[0].headers == {"Retry-After": "1"}
    assert errors[0].code == "busy" and outcomes.count(True) == 3


def test_query_vectors_are_reused_for_the_same_question_and_bounded() -> None:
    cache = QueryCache(2)
    v = np.ones(3, dtype=np.float32)
    cache.put("Is Seedream 4.0 unlimited?", v)
    assert cache.get("  is seedream 4.0   UNLIMITED? ") is v  # case and spacing do not make a new question
    assert cache.get("Is Sora unlimited?") is None
    cache.put("b", np.zeros(3, dtype=np.float32))
    cache.put("c", np.zeros(3, dtype=np.float32))  # the least recently used goes
    assert cache.get("Is Seedream 4.0 unlimited?") is None and cache.stats()["size"] == 2
    with pytest.raises(ValueError):
        v[0] = 2.0  # a shared vector cannot be changed by one request


def test_search_embeds_a_repeated_question_once(built) -> None:
    _, _, retriever = built
    calls: list[list[str]] = []
    real = retriever.store.embedding.embed_query

    def counting(queries):
        calls.append(list(queries))
        return real(queries)

    retriever.load()  # the generation is loaded (and warmed) before counting
    retriever.store.embedding.embed_query = counting
    try:
        first = retriever.search("how do I see which models are unlimited before paying?")
        again = retriever.search("How do I see which models are unlimited before paying?")
    finally:
        retriever.store.embedding.embed_query = real
    assert len(calls) == 1 and [h.chunk_id for h in first] == [h.chunk_id for h in again]
