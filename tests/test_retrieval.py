"""Hybrid search finds the right section for customer questions, in English and Korean."""
from __future__ import annotations

import json

import pytest

from bot.errors import InputError
from bot.retrieval import Glossary, tokenize
from tests.conftest import PAGE_ID, run_cli


@pytest.mark.parametrize(
    ("question", "anchor"),
    [
        ("Is Seedream 4.0 unlimited for me?", "image-models"),
        ("seedrem 4 unlimted?", "image-models"),
        ("is 4K nanobanana pro free", "image-models-1"),
        ("which agent model uses the fewest conversation credits?", "ai-agent-conversation"),
        ("where do I see my active benefits", "how-to-check-your-benefits"),
        ("시드림 4.0 무제한인가요?", "image-models"),
        ("나노바나나 2는 무제한이 아닌가요?", "if-nanobanana-is-unlimited-isnt-nanobanana-2-also-unlimited"),
        ("내 크레딧", "how-to-check-your-benefits"),
    ],
)
def test_expected_section_in_top_3(built, question: str, anchor: str) -> None:
    """Asked in English or in Korean, search finds the section (or its Korean twin) that answers."""
    _, _, retriever = built
    lang = "ko" if any("\uac00" <= c <= "\ud7a3" for c in question) else "en"
    found = [english_section(built, h.section_id) for h in retriever.search(question, k=3, lang=lang)]
    assert f"{PAGE_ID}#{anchor}" in found


def english_section(built, section_id: str) -> str:  # type: ignore[no-untyped-def]
    """Return the English section a Korean twin section stands for (or the section itself)."""
    from bot.mdx import load_pages
    from bot.twins import section_map

    settings, _, _ = built
    return section_map(load_pages(settings.pages_path, settings.docs_base_url)).get(section_id, section_id)


@pytest.mark.parametrize(("question", "lang"), [("Is Seedream 4.0 unlimited for me?", "en"), ("시드림 4.0 무제한인가요?", "ko"),
                                                 ("시드림 4.0 무제한인가요?", "en")])
def test_model_row_is_first(built, question: str, lang: str) -> None:
    """The model's table row leads, from the page in the language asked for."""
    _, _, retriever = built
    top = retriever.search(question, k=3, lang=lang)[0]
    assert english_section(built, top.section_id) == f"{PAGE_ID}#image-models"
    assert top.section_id.startswith(f"{lang}/")


def test_hits_are_one_per_section_with_scores_and_urls(built) -> None:
    _, _, retriever = built
    hits = retriever.search("why are my credits dropping?", k=8)
    assert len(hits) == 8
    assert len({h.section_id for h in hits}) == len(hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.url.startswith("https://carat.im/docs/") and "#" in h.url for h in hits)


def test_table_row_comes_with_header_and_section(built) -> None:
    _, _, retriever = built
    top = retriever.search("Flux2 Pro", k=1, lang="en")[0]
    assert top.section.endswith("› Image models")
    assert "Model: **Flux2 Pro**" in top.text and "Unlimited eligibility:" in top.text


@pytest.mark.parametrize("query", ["", "   ", "x" * 5000])
def test_bad_queries_are_clear_errors(built, query: str) -> None:
    _, _, retriever = built
    with pytest.raises(InputError):
        retriever.search(query)


def test_tokenize_joins_split_names_and_korean_bigrams() -> None:
    assert "nanobanana" in tokenize("nano banana pro")
    assert "4.0" in tokenize("Seedream 4.0")
    assert "크레" in tokenize("크레딧은")


def test_glossary_longest_term_wins() -> None:
    g = Glossary({"프로": "pro", "프로필": "profile"})
    assert g.english("프로필 메뉴") == "profile"


def test_cli_search_json(built) -> None:
    settings, _, _ = built
    proc = run_cli("search", "how do I get the free video model in Agent 2.0?", "--json",
                   env={"DATA_DIR": str(settings.data_dir)})
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert {"text", "section", "url", "score"} <= set(results[0])
    assert any(r["url"].endswith("#video-models") for r in results[:3])


def test_cli_search_empty_question_is_exit_2(built) -> None:
    settings, _, _ = built
    proc = run_cli("search", "", "--json", env={"DATA_DIR": str(settings.data_dir)})
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["code"] == "bad_input"


def test_other_languages_are_searched_only_for_pages_missing_in_the_questions_language(built, tmp_path) -> None:
    """Every shipped page has a Korean twin: a Korean question embeds once. Add an English-only page and its
    English words are embedded too (and that page can be found)."""
    import shutil

    from bot.retrieval import Retriever
    from bot.store import Store, build_index

    settings, store, retriever = built
    embedded: list[str] = []

    def counting(store_):  # type: ignore[no-untyped-def]
        real = store_.embedding.embed_query
        store_.embedding.embed_query = lambda texts: embedded.extend(texts) or real(texts)

    retriever.current()  # loaded (and warmed) before counting
    counting(store)
    retriever.vectors = type(retriever.vectors)(64)
    retriever.search("크레딧이 왜 계속 줄어드나요?", k=3, lang="ko")
    assert len(embedded) == 1
    pages = tmp_path / "pages"
    shutil.copytree(settings.pages_path, pages)
    (pages / "en" / "gallery.mdx").write_text("---\ntitle: Gallery\n---\n\n## Downloading videos\n\n"
                                               "Download a finished video from the gallery as MP4 (test fixture).\n")
    other = settings.model_copy(update={"pages_dir": pages, "data_dir": tmp_path / "var"})
    store2 = Store(other)
    build_index(other, store2)
    second = Retriever(store2, retriever.glossary)
    second.current()
    counting(store2)
    embedded.clear()
    hits = second.search("갤러리에서 영상 다운로드는 어떻게 해요?", k=3, lang="ko")
    assert len(embedded) == 2 and any(h.section_id.startswith("en/gallery") for h in hits)
