"""Streamed text is released sentence by sentence, only after the answer check passed each one."""
from __future__ import annotations

from bot.answer.gate import SentenceGate
from bot.answer.grounding import Grounding
from tests.test_grounding import ENGINE, EVIDENCE, URLS, VERDICTS


def gate() -> SentenceGate:
    g = Grounding(ENGINE, verdicts=VERDICTS, evidence=EVIDENCE, urls=URLS, sections=1, lang="en")
    return SentenceGate(g.check)


def stream(text: str, size: int = 4) -> tuple[str, SentenceGate]:
    g = gate()
    shown = ""
    for i in range(0, len(text), size):
        shown += "".join(g.feed(text[i:i + size]))
    shown += "".join(g.flush())
    return shown, g


def test_a_faithful_answer_streams_whole() -> None:
    text = "**Seedream 4.0: unlimited** for you. Generating with it uses no credits.\nSora uses credits on your plan."
    shown, g = stream(text)
    assert shown == text and not g.closed


def test_nothing_after_a_false_claim_is_shown_and_the_claim_never_is() -> None:
    text = "Seedream 4.0 is unlimited for you. Sora is included in your plan at no charge. Enjoy it all day."
    shown, g = stream(text)
    assert shown == "Seedream 4.0 is unlimited for you. " and g.closed
    assert "no charge" not in shown and "Enjoy" not in shown


def test_a_pronoun_is_read_with_the_sentence_before_it() -> None:
    shown, g = stream("Sora is a video model. It is unlimited for you.")
    assert shown == "Sora is a video model. " and g.closed


def test_versions_and_decimals_do_not_end_a_sentence() -> None:
    shown, g = stream('Agent 2.0 uses credits for chatting. Ask for "Use Carat Basic Video (LTX 2.3)" to get Carat Video.', size=3)
    assert not g.closed and shown.endswith("Carat Video.")


def test_an_invented_figure_stops_the_stream_even_without_a_sentence_end() -> None:
    shown, g = stream("Seedream 4.0 is unlimited for you and each Sora clip costs 150 credits " + "and more " * 80)
    assert g.closed and "150" not in shown
