"""The multi-page test corpus (tests/fixtures/help-center) with the shipped page: questions with their answers."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "help-center"
SHIPPED = ROOT / "knowledge" / "help-center"


@dataclass(frozen=True)
class Question:
    """A customer question and where it is answered (empty: nowhere)."""

    text: str
    lang: str
    sections: tuple[str, ...]  # section ids that answer it (twins included); empty for not covered
    kind: str  # answered | paraphrase | not_covered


def pages_folder(dest: Path) -> Path:
    """Copy the corpus and the shipped pages into one help-center folder and return it."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(SHIPPED, dest)
    for lang in ("en", "ko"):
        shutil.copytree(CORPUS / lang, dest / lang, dirs_exist_ok=True)
    return dest


def questions() -> list[Question]:
    """Return every question of the manifest: answered (both languages), paraphrased and not covered."""
    data = yaml.safe_load((CORPUS / "MANIFEST.yaml").read_text(encoding="utf-8"))
    out: list[Question] = []

    def ids(page: str, anchor: str, twin: str | None, twin_anchor: str | None, also: list[str]) -> tuple[str, ...]:
        pid = page.removesuffix(".mdx")
        found = [f"{pid}#{anchor}"]
        if twin and twin_anchor:
            found.append(f"{twin.removesuffix('.mdx')}#{twin_anchor}")
        for extra in also or []:
            found.append(extra.removeprefix("real:"))
        return tuple(found)

    for page in data["pages"]:
        for a in page.get("answers") or []:
            out.append(Question(a["q"], a["lang"], ids(page["path"], a["anchor"], page.get("twin"), a.get("twin_anchor"),
                                                      a.get("also") or []), "answered"))
    for p in data.get("paraphrases") or []:
        twin = p["page"].replace("en/", "ko/", 1) if p.get("twin_anchor") else None
        out.append(Question(p["q"], p["lang"], ids(p["page"], p["anchor"], twin, p.get("twin_anchor"), p.get("also") or []),
                            "paraphrase"))
    for lang, items in (data.get("not_covered") or {}).items():
        out += [Question(q, lang, (), "not_covered") for q in items]
    return out
