"""The MDX parser reads Mintlify pages in general and refuses malformed ones with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.mdx import load_pages, parse_page, slugify
from tests.conftest import PAGE, PAGE_ID, ROOT

BASE = "https://carat.im/docs"


def _page(tmp_path: Path, text: str, name: str = "guide/page.mdx"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return parse_page(path, root=tmp_path, base_url=BASE)


def test_shipped_page_header_and_ids() -> None:
    page = parse_page(PAGE, root=ROOT / "knowledge" / "help-center", base_url=BASE)
    assert page.id == PAGE_ID
    assert page.title.startswith("Unlimited benefit scope")
    assert page.description.startswith("A complete summary")
    assert page.url == f"{BASE}/{PAGE_ID}"
    assert not any("Documentation Index" in b.text for s in page.sections for b in s.blocks)


def test_tables_rows_keep_section_and_header() -> None:
    page = parse_page(PAGE, root=ROOT / "knowledge" / "help-center", base_url=BASE)
    covered = page.section("image-models")
    assert covered.path == ("Models covered by the unlimited benefit (no credit deduction)", "Image models")
    table = covered.tables[0]
    assert table.header == ("Model", "Unlimited eligibility")
    row = dict(table.rows)["Seedream 4.0"]
    assert row == "Premium / Pro members who joined on or after Feb 25, 2026"
    not_covered = page.section("image-models-1")
    assert not_covered.path[0].startswith("Items NOT covered")
    assert "Midjourney" in [r[0] for r in not_covered.tables[0].rows]
    assert not_covered.tables[0].row_lines[0] == 68


def test_components_and_links() -> None:
    page = parse_page(PAGE, root=ROOT / "knowledge" / "help-center", base_url=BASE)
    faq = [s for s in page.sections if s.kind == "faq"]
    assert [s.title for s in faq][2] == "Isn't Nanobanana Pro also unlimited?"
    assert "Nov 21–30, 2025" in faq[2].blocks[0].text
    video = page.section("video-models")
    info = [b for b in video.blocks if b.kind == "callout"][0]
    assert info.label == "Info" and "Use Carat Basic Video (LTX 2.3)" in info.text
    assert "(https://carat.im/docs/en/troubleshooting/agent-2/use-carat-video-model)" in info.text
    cards = [b for b in page.section("related-articles").blocks if b.kind == "card"]
    assert len(cards) == 4 and cards[2].label == "Promotion overview"
    assert "https://carat.im/docs/en/troubleshooting/usage-plan/promotion-overview" in cards[2].text
    tip = [b for b in page.section(
        "im-unlimited-but-generation-gets-blocked-when-im-low-on-credits-agent-10-vs-20").blocks if b.kind == "callout"]
    assert "[Agent 1.0(에이전트 1.0)]" in tip[0].text


def test_front_matter_page_with_nested_components(tmp_path: Path) -> None:
    page = _page(tmp_path, """---
title: "Billing FAQ"
description: How credits are billed
---

Intro with a [relative link](../other) and an [anchor](#refunds).

## Refunds

<Note>
  Refunds take **5 days**.
</Note>

<Steps>
  <Step title="Open settings">
    Go to *Settings*.
  </Step>
</Steps>

### 환불 정책

<AccordionGroup>
  <Accordion title="Can I get a refund?">Yes, within 7 days.</Accordion>
</AccordionGroup>

```mdx
<Accordion title="not a component inside code">
```
""")
    assert page.title == "Billing FAQ" and page.description == "How credits are billed"
    intro = page.sections[0].blocks[0].text
    assert "(https://carat.im/docs/other)" in intro
    assert "(https://carat.im/docs/guide/page#refunds)" in intro
    refunds = page.section("refunds")
    assert [b.kind for b in refunds.blocks] == ["callout", "text", "text"]
    korean = page.section("환불-정책")
    assert korean.path == ("Refunds", "환불 정책")
    faq = page.section("can-i-get-a-refund")
    assert faq.kind == "faq" and faq.blocks[0].text == "Yes, within 7 days."
    assert any(b.kind == "code" for s in page.sections for b in s.blocks)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("---\ntitle: x\n\n## A\n", 1, "never closed"),
        ("---\ntitle: [unclosed\n---\n", 2, "not valid YAML"),
        ("---\ndescription: no title\n---\nbody\n", 1, "no title"),
        ("Just text, no title\n", 1, "no title"),
        ("# T\n\n## A\n\n<Accordion title=\"Q\">\n  answer\n\n## B\n", 5, "<Accordion> is never closed"),
        ("# T\n\n<Info>\n  hi\n</Warning>\n", 5, "unexpected </Warning>"),
        ("# T\n\n<Card title=\"x\"\n", 3, "never finished"),
    ],
)
def test_malformed_pages_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    with pytest.raises(SourceError) as err:
        _page(tmp_path, text)
    assert err.value.details["line"] == line
    assert err.value.details["file"].endswith("page.mdx")
    assert words in err.value.message


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no help-center pages"):
        load_pages(tmp_path, BASE)


def test_slugify_matches_github_style() -> None:
    assert slugify("I'm unlimited, but (Agent 1.0 vs 2.0)") == "im-unlimited-but-agent-10-vs-20"
    assert slugify("Premium/Pro video") == "premiumpro-video"


def test_mdx_import_and_export_lines_are_code_not_text(tmp_path: Path) -> None:
    page = _page(tmp_path, "---\ntitle: Export\n---\n\nimport { Banner } from '/snippets/banner.mdx';\n"
                           "export const limit = 7;\n\n<Banner />\n\nExports expire after 7 days.\n\n"
                           "```js\nimport x from 'y';\n```\n")
    text = "\n".join(b.text for s in page.sections for b in s.blocks)
    assert "Exports expire after 7 days." in text
    assert "snippets/banner" not in text and "export const" not in text
    assert "import x from 'y';" in text  # inside a code block it is an example, kept
