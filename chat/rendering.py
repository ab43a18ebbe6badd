"""An answer as safe HTML: Markdown rendered and sanitised, links kept to our own pages, and
numbers not from our data marked.

The model's text is untrusted (it may repeat what a planted page or record told it), so the
work is done on Markdown tokens, never by regexes over HTML: a link that leaves the site
becomes text naming its domain, so no answer can send a traveller elsewhere with a click, and
an ungrounded number is marked in text tokens only, so no attribute or URL is ever touched.
Raw HTML in an answer is shown as text.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host
from markdown_it import MarkdownIt
from markdown_it.token import Token

from knowledge.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, sanitised

ANSWER_TAGS = ALLOWED_TAGS | {"mark", "span"}
ANSWER_ATTRIBUTES = ALLOWED_ATTRIBUTES | {"mark": {"class", "title"}, "span": {"class"}}
UNGROUNDED_TITLE = "not from our data"


def answer_html(answer: str, ungrounded: list[str]) -> str:
    parser = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
    tokens = parser.parse(answer)
    marker = _ungrounded_pattern(ungrounded)
    for token in tokens:
        if token.type == "inline" and token.children:
            children = _offsite_links_as_text(token.children)
            token.children = _marked(children, marker) if marker else children
    html = parser.renderer.render(tokens, parser.options, {})
    return sanitised(html, tags=ANSWER_TAGS, attributes=ANSWER_ATTRIBUTES)


# --- links -----------------------------------------------------------------------------------


def on_site(href: str) -> bool:
    """Whether a link stays on the product's own pages: relative, or to one of its hosts."""
    # Browsers read a backslash as a slash, and "//host" or "///host" as another site.
    address = href.strip().replace("\\", "/")
    parts = urlsplit(address)
    if not parts.scheme and not parts.netloc:
        return not address.startswith("//")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    # A wildcard ALLOWED_HOSTS accepts any Host header; it names no site of ours.
    own_hosts = [host for host in settings.ALLOWED_HOSTS if host != "*"]
    return validate_host(parts.hostname, own_hosts)


def offsite_label(href: str) -> str:
    """How an off-site address is shown: its domain, and "/…" when it goes further."""
    parts = urlsplit(href.strip())
    if not parts.hostname:
        return ""
    deeper = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.hostname}{'/…' if deeper else ''}"


def _offsite_links_as_text(children: list[Token]) -> list[Token]:
    """Inline tokens with every off-site link replaced by its words and its domain."""
    kept: list[Token] = []
    href: str | None = None  # of the off-site link being replaced
    for child in children:
        if child.type == "link_open" and not on_site(str(child.attrGet("href") or "")):
            href = str(child.attrGet("href") or "")
            if child.markup == "autolink":  # its words are the address: show the domain only
                kept.append(_text(offsite_label(href)))
                href = "autolink"
            continue
        if href is not None:
            if child.type == "link_close":
                if href != "autolink" and offsite_label(href):
                    kept.append(_text(f" ({offsite_label(href)})"))
                href = None
            elif href != "autolink":
                kept.append(child)
            continue
        kept.append(child)
    return kept


# --- ungrounded numbers ----------------------------------------------------------------------


def _ungrounded_pattern(ungrounded: list[str]) -> re.Pattern[str] | None:
    values = sorted({v for v in ungrounded if v}, key=len, reverse=True)
    if not values:
        return None
    return re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")


def _marked(children: list[Token], marker: re.Pattern[str]) -> list[Token]:
    """Inline tokens with each ungrounded number in a text token wrapped in a <mark>."""
    marked: list[Token] = []
    for child in children:
        if child.type != "text":
            marked.append(child)
            continue
        position = 0
        for match in marker.finditer(child.content):
            marked.append(_text(child.content[position : match.start()]))
            marked += _mark(match.group(0))
            position = match.end()
        marked.append(_text(child.content[position:]) if position else child)
    return [t for t in marked if t.type != "text" or t.content]


def _mark(value: str) -> list[Token]:
    return [
        Token("mark_open", "mark", 1, attrs={"class": "ungrounded", "title": UNGROUNDED_TITLE}),
        _text(value),
        Token("mark_close", "mark", -1),
        Token("span_open", "span", 1, attrs={"class": "ungrounded__note"}),
        _text(f" ({UNGROUNDED_TITLE})"),
        Token("span_close", "span", -1),
    ]


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)
