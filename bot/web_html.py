"""HTML of the chat page: markdown rendered with raw HTML escaped, cleaned by nh3, citations and bare links clickable."""
from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from typing import Any

HANGUL = re.compile(r"[\uac00-\ud7a3]")
BETWEEN_TAGS = re.compile(r">\s*\n\s*<")
CITATION = re.compile(r"(?<![\\\w])\[(\d{1,2})\](?![(\[])")
SNAPSHOT_VERSION = 1
MAX_SNAPSHOT_MESSAGES = 60
ROLES = ("user", "assistant")

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote", "h3", "h4",
                "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "div", "span", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "div": {"lang"}, "th": {"align"}, "td": {"align"}}

# Gradio's own sanitiser drops role and aria-* attributes: the words are in the indicator, hidden from sight.
TYPING_HTML = ('<div class="typing"><span class="dot"></span><span class="dot"></span><span class="dot"></span>'
               '<span class="said">{label}</span></div>')
TEXT = {
    "en": {"sources": "Sources", "typing": "Carat support is typing", "profile": "Set your plan, billing and signup date"},
    "ko": {"sources": "출처", "typing": "답변을 준비하고 있어요", "profile": "플랜, 결제 주기, 가입일 입력하기"},
}


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    """Return the shared HTML sanitiser: a short tag list, http(s)/mailto links only, each opening a new tab."""
    import nh3

    return nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                       link_rel="noopener noreferrer nofollow", set_tag_attribute_values={"a": {"target": "_blank"}},
                       allowed_classes={"a": {"cite"}})


@lru_cache(maxsize=1)
def _markdown() -> Any:
    """Return the markdown renderer: raw HTML in text is escaped, never passed through; bare links become links."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True}).enable(["table", "linkify"])


def language_of(text: str) -> str:
    """Return 'ko' for text with Hangul, else 'en'."""
    return "ko" if HANGUL.search(text) else "en"


def link_citations(markdown_text: str, urls: list[str]) -> str:
    """Return markdown with each '[n]' that names a source turned into a link to it."""
    def link(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(urls) or not urls[n - 1].startswith(("https://", "http://")):
            return m.group(0)
        return f"[\\[{n}\\]](<{urls[n - 1].replace('>', '%3E')}> \"{n}\")"

    return CITATION.sub(link, markdown_text)


def safe_html(markdown_text: str, language: str | None = None, source_urls: list[str] | None = None) -> str:
    """Return sanitised HTML for markdown text (answers and echoed messages alike)."""
    language = language if language in TEXT else language_of(markdown_text)
    if source_urls:
        markdown_text = link_citations(markdown_text, source_urls)
    body = BETWEEN_TAGS.sub("><", _markdown().render(markdown_text).strip())  # newlines would show as blank lines
    body = re.sub(r'<a href="([^"]*)" title="(\d{1,2})">', r'<a href="\1" class="cite">', body)
    # "carat.im/?tab=v1" written without a scheme: linkify guesses http, the site is https.
    body = re.sub(r'<a href="http://([^"]*)">(?!https?:)', r'<a href="https://\1">', body)
    return _cleaner().clean(f'<div lang="{language}">{body}</div>')


def sources_html(sources: list[dict[str, Any]], language: str) -> str:
    """Return a collapsible list of an answer's help-center sources, numbered like its citations."""
    if not sources:
        return ""
    items = "".join(
        f'<li><a href="{html.escape(str(s.get("url", "")), quote=True)}">{html.escape(str(s.get("title", "")))}'
        f'{" - " + html.escape(str(s["section"])) if s.get("section") and s.get("section") != s.get("title") else ""}'
        f"</a></li>"
        for s in sources)
    label = TEXT.get(language, TEXT["en"])["sources"]
    return _cleaner().clean(f"<details><summary>{label} ({len(sources)})</summary><ol>{items}</ol></details>")


def typing_html(language: str) -> str:
    """Return the typing indicator shown until an answer's first words arrive."""
    return TYPING_HTML.format(label=TEXT.get(language, TEXT["en"])["typing"])


def profile_link_html(language: str) -> str:
    """Return the link from a clarifying question to the subscription panel (handled by the page's script)."""
    label = html.escape(TEXT.get(language, TEXT["en"])["profile"])
    return f'<p><a href="#profile" class="to-profile">{label}</a></p>'


def message_html(m: dict[str, Any]) -> str:
    """Return the chat bubble of a stored page message."""
    lang = m.get("lang") or language_of(m.get("text", ""))
    if m["role"] == "user":
        return safe_html(m.get("text", ""), lang)
    sources = m.get("sources") or []
    body = safe_html(m.get("text", ""), lang, [str(s.get("url", "")) for s in sources])
    if m.get("profile_link"):
        body += profile_link_html(lang)
    return body + sources_html(sources, lang)


def history(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return the Chatbot value for page messages."""
    return [{"role": m["role"], "content": message_html(m)} for m in messages]


def snapshot(session_id: str | None, messages: list[dict[str, Any]]) -> str:
    """Return what the browser keeps for the tab so a reload shows the conversation again ('' when empty)."""
    if not session_id or not messages:
        return ""
    keep = ("role", "text", "lang", "sources", "turn_id", "profile_link")
    return json.dumps({"v": SNAPSHOT_VERSION, "session_id": session_id,
                       "messages": [{k: m[k] for k in keep if m.get(k)} for m in messages]}, ensure_ascii=False)


def read_snapshot(raw: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """Return the session id and messages a browser sent back, or (None, []) for anything malformed."""
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None, []
    if not isinstance(data, dict) or data.get("v") != SNAPSHOT_VERSION or not isinstance(data.get("session_id"), str):
        return None, []
    messages = []
    for m in data.get("messages") or []:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("text"), str):
            return None, []
        sources = [s for s in m.get("sources") or [] if isinstance(s, dict)][:10]
        messages.append({"role": m["role"], "text": m["text"][:8000], "lang": "ko" if m.get("lang") == "ko" else "en",
                         "sources": [{k: str(s.get(k, ""))[:500] for k in ("title", "section", "url")} for s in sources],
                         "turn_id": str(m.get("turn_id") or "")[:40], "profile_link": bool(m.get("profile_link"))})
    return data["session_id"], messages[-MAX_SNAPSHOT_MESSAGES:]
