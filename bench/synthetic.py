"""Synthetic help centers for benchmarks: invented Mintlify-style pages, clearly marked, never Carat facts.

Every page says in its description that it is synthetic; words come from an invented vocabulary so the
lexical index sees realistic variety. `write_site` lays pages out like the published site (llms.txt plus
`<lang>/<path>.md`), `write_pages` like the knowledge folder (`<lang>/<path>.mdx`).
"""
from __future__ import annotations

import random
from pathlib import Path

SECTIONS = ("topic", "guide", "billing", "account", "studio", "faq")
WORDS = ("amber basil cobalt dune ember fjord garnet harbor indigo juniper kelp lumen maple nimbus onyx "
         "pebble quartz russet saffron tundra umber velvet willow xenon yarrow zephyr anchor beacon cinder "
         "drift echo flint glade haze isle jade knoll lagoon mesa nook orbit prism quill ridge summit "
         "thistle vale wren").split()
NOTICE = "SYNTHETIC benchmark page: invented text, not Carat documentation."


def _sentence(rng: random.Random, n: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def page_text(index: int, lang: str = "en", edit: int = 0) -> str:
    """Return one synthetic page (about 15 chunks); edit > 0 changes one paragraph of it."""
    rng = random.Random(index * 7919 + (1 if lang == "ko" else 0))
    title = f"Synthetic page {index} {rng.choice(WORDS)} {rng.choice(WORDS)}"
    lines = ["> ## Documentation Index", "> Fetch the complete documentation index at: /docs/llms.txt", "",
             f"# {title}", "", f"> {NOTICE}", "", _sentence(rng, 30), ""]
    for s in range(4):
        lines += [f"## Part {s + 1}: {rng.choice(WORDS)} {rng.choice(WORDS)}", ""]
        paragraph = " ".join(_sentence(rng, 12) for _ in range(5))
        if s == 1 and edit:
            paragraph = f"Edited {edit} times: " + paragraph
        lines += [paragraph, "", "<Tip>", f"  {_sentence(rng)}", "</Tip>", ""]
        if s % 2 == 0:
            lines += ["| Item | Detail |", "| ---- | ------ |"]
            lines += [f"| {rng.choice(WORDS)} {n} | {_sentence(rng, 8)} |" for n in range(4)]
            lines.append("")
    lines += ["## Questions", "", "<AccordionGroup>"]
    for q in range(2):
        lines += [f'  <Accordion title="Why does {rng.choice(WORDS)} {q} {rng.choice(WORDS)}?">',
                  f"    {_sentence(rng, 20)}", "  </Accordion>"]
    lines += ["</AccordionGroup>", ""]
    return "\n".join(lines)


def page_ids(pages: int) -> list[tuple[int, str, str]]:
    """Return (index, language, page id) for a help center of `pages` pages, half English, half Korean."""
    out = []
    for i in range(pages):
        lang = "en" if i % 2 == 0 else "ko"
        out.append((i, lang, f"{lang}/{SECTIONS[i % len(SECTIONS)]}/synthetic-{i:04d}"))
    return out


def write_pages(folder: Path, pages: int) -> None:
    """Write a knowledge folder of synthetic pages (`<lang>/<path>.mdx`)."""
    for i, lang, page_id in page_ids(pages):
        path = folder / f"{page_id}.mdx"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page_text(i, lang), encoding="utf-8")


def write_site(folder: Path, pages: int) -> None:
    """Write a synthetic published site: llms.txt and `<lang>/<path>.md` markdown copies."""
    listing = ["# Synthetic Help Center", "", f"> {NOTICE}", "", "## Docs", ""]
    for i, lang, page_id in page_ids(pages):
        path = folder / f"{page_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page_text(i, lang), encoding="utf-8")
        listing.append(f"- [Synthetic page {i}](/docs/{page_id}.md): synthetic")
    (folder / "llms.txt").write_text("\n".join(listing) + "\n", encoding="utf-8")
