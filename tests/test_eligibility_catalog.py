"""Model names as customers write them: aliases, typos, Korean, names inside sentences."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import InputError
from bot.eligibility import Engine

ROOT = Path(__file__).resolve().parent.parent
CATALOG = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml").catalog


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nanobanana", ("nanobanana", None)),
        ("Nanobanana (base)", ("nanobanana", None)),
        ("nano banana pro", ("nanobanana-pro", None)),
        ("nanobanana pro 4k", ("nanobanana-pro", "4k")),
        ("Nanobanana Pro 4K", ("nanobanana-pro", "4k")),
        ("NANO-BANANA PRO 2K", ("nanobanana-pro", "2k")),
        ("nanobanana 2", ("nanobanana-2", None)),
        ("nanobanana2 1k", ("nanobanana-2", "1k")),
        ("FLUX 2 Pro", ("flux2-pro", None)),
        ("flux2", ("flux2-pro", None)),
        ("Z-Image", ("z-image", None)),
        ("z image", ("z-image", None)),
        ("Carat Basic Video", ("carat-video", None)),
        ("Carat Basic Video (LTX 2.3)", ("carat-video", None)),
        ("LTX 2.3", ("carat-video", None)),
        ("LTX", ("carat-video", None)),
        ("seedream 4", ("seedream-4.0", None)),
        ("Seedream 4.0", ("seedream-4.0", None)),
        ("sora2", ("sora", None)),
        ("Sora / Sora2", ("sora", None)),
        ("veo3", ("veo", None)),
        ("gpt image 1.5", ("chatgpt-image-1.5", None)),
        ("chatgpt image 2.0 medium", ("chatgpt-image-2.0", "medium")),
        ("ChatGPT Image 2.0 Low", ("chatgpt-image-2.0", "low")),
        ("grok", ("grok-imagine", None)),
        ("lip-sync", ("lip-sync", None)),
        ("seedance", ("seedance-2.0", None)),
        ("Carat 1.0 Lite", ("carat-1.0-lite", None)),
        ("Carat 1.0", ("carat-1.0", None)),
        ("carat 1.0 soul", ("carat-1.0-soul", None)),
        ("Agent 2.0", ("agent-2.0", None)),
        ("나노바나나", ("nanobanana", None)),
        ("나노바나나 프로", ("nanobanana-pro", None)),
        ("나노바나나 2", ("nanobanana-2", None)),
        ("시드림", ("seedream-4.0", None)),
        ("시드림은", ("seedream-4.0", None)),
        ("소라", ("sora", None)),
        ("클링", ("kling", None)),
        ("미드저니", ("midjourney", None)),
        ("에이전트 1.0", ("agent-1.0", None)),
        # typos
        ("seedrem 4.0", ("seedream-4.0", None)),
        ("nano banan pro", ("nanobanana-pro", None)),
        ("nano banan pro 4k", ("nanobanana-pro", "4k")),
        ("midjurney", ("midjourney", None)),
        ("klng", ("kling", None)),
        ("grok imagin", ("grok-imagine", None)),
    ],
)
def test_resolve_model(text: str, expected: tuple[str, str | None]) -> None:
    assert CATALOG.resolve_model(text) == expected


@pytest.mark.parametrize("text", ["nanobanana 3", "imagen 4", "gpt image 3", "veo 3.1", "dall-e", "", "   ", "pro", "sd"])
def test_unknown_models_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        CATALOG.resolve_model(text)


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(InputError) as err:
        CATALOG.resolve_model("seadreem five")
    assert "did you mean" in err.value.message and "Seedream 4.0" in err.value.details["suggestions"]


@pytest.mark.parametrize(("text", "names"), [("nanobanana pro 8k", "1K, 2K, 4K"), ("chatgpt image 2.0 high", "Low, Medium")])
def test_unknown_variant_in_the_name_lists_the_variants(text: str, names: str) -> None:
    with pytest.raises(InputError, match=names):
        CATALOG.resolve_model(text)


def found(text: str) -> list[tuple[str, str | None]]:
    return [(m.model_id, m.variant) for m in CATALOG.find_models_in_text(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Is nanobanana 2 unlimited for me?", [("nanobanana-2", None)]),
        ("nanobanana vs nanobanana pro 4k", [("nanobanana", None), ("nanobanana-pro", "4k")]),
        ("I used seedrem 4.0 and nano banan pro yesterday", [("seedream-4.0", None), ("nanobanana-pro", None)]),
        ("Why did sora2 and Veo 3 cost so much?", [("sora", None), ("veo", None)]),
        ("나노바나나 프로는 무제한인가요?", [("nanobanana-pro", None)]),
        ("sora2랑 클링은 크레딧이 드나요", [("sora", None), ("kling", None)]),
        ("gpt image 2.0 medium vs chatgpt image 1.5", [("chatgpt-image-2.0", "medium"), ("chatgpt-image-1.5", None)]),
        ("the midjurney and klingg models", [("midjourney", None), ("kling", None)]),
        ("Use Carat Basic Video (LTX 2.3) please", [("carat-video", None)]),
        ("Is the Pro plan unlimited for video? What about image quality, king?", []),
        ("Is nanobanana 3 out yet?", []),
        ("I joined on 2025-11-25 and use nanobanana pro", [("nanobanana-pro", None)]),
    ],
)
def test_find_models_in_text(text: str, expected: list) -> None:
    assert found(text) == expected


def test_mentions_point_into_the_text() -> None:
    text = "does nano banan pro 4k use credits"
    (m,) = CATALOG.find_models_in_text(text)
    assert text[m.start : m.end] == m.text == "nano banan pro 4k" and m.score < 100


@pytest.mark.parametrize(("text", "plan"), [("premium", "premium"), ("PREMIUM", "premium"), ("Max", "max"), ("프로", "pro"), ("business", "business")])
def test_plans_any_case(text: str, plan: str) -> None:
    assert CATALOG.resolve_plan(text) == plan


@pytest.mark.parametrize(("text", "billing"), [("monthly", "monthly"), ("Annual", "annual"), ("yearly", "annual"), ("연간", "annual"), ("MONTH", "monthly")])
def test_billing_any_case(text: str, billing: str) -> None:
    assert CATALOG.resolve_billing(text) == billing


def test_bad_plan_and_billing_list_the_choices() -> None:
    with pytest.raises(InputError, match="Plus, Premium, Max, Pro, Business"):
        CATALOG.resolve_plan("gold")
    with pytest.raises(InputError, match="did you mean 'Premium'"):
        CATALOG.resolve_plan("premuim")
    with pytest.raises(InputError, match="monthly, annual"):
        CATALOG.resolve_billing("weekly")
