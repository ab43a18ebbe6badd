"""Markdown of help articles: sections with stable anchors, chunks for retrieval, safe HTML.

Chunks follow the headings: each carries its heading path ("Checked baggage > Fees") and the
anchor of its section, the same anchor the rendered article gives that heading, so a
citation links to `/help/<doc_id>#<anchor>`. A section longer than a chunk is split with an
overlap. Rendering is sanitised (nh3): no script, no event handler, no style survives.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

CHUNK_WORDS = 170  # about 230 tokens with the heading path: inside the model's 256
OVERLAP_WORDS = 30
INTRO = "overview"
ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "del",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    **{f"h{n}": {"id"} for n in range(1, 7)},
    "a": {"href", "title"},
    "td": {"align"},
    "th": {"align"},
}


@dataclass(frozen=True)
class Section:
    path: tuple[str, ...]  # headings from the top, the document title first
    anchor: str
    text: str  # readable text, markup removed
    source: str  # the Markdown lines of the section, as written (scanned for injections)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    ordinal: int
    heading: str
    heading_path: str
    anchor: str
    text: str
    source: str
    content_hash: str

    @property
    def embedded_text(self) -> str:
        return f"{self.heading_path}\n{self.text}"


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "section"


def _anchors(tokens: list[Token]) -> dict[int, str]:
    """token index of each heading_open -> its unique anchor, in document order."""
    seen: dict[str, int] = {INTRO: 1}
    anchors = {}
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            base = slug(tokens[index + 1].content)
            seen[base] = seen.get(base, 0) + 1
            anchors[index] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return anchors


def sections(title: str, body: str) -> list[Section]:
    tokens = _parser().parse(body)
    anchors = _anchors(tokens)
    lines = body.splitlines()
    found: list[Section] = []
    path: list[tuple[int, str]] = []
    anchor = INTRO
    texts: list[str] = []
    spans: list[tuple[int, int]] = []

    def close() -> None:
        text = " ".join(t for t in texts if t).strip()
        if text:
            source = "\n".join(line for a, b in spans for line in lines[a:b])
            found.append(Section((title, *(h for _, h in path)), anchor, text, source))

    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            close()
            level = int(token.tag[1])
            heading = tokens[index + 1].content.strip()
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
            anchor, texts, spans = anchors[index], [], []
        elif token.type == "inline" and tokens[index - 1].type != "heading_open":
            texts.append(_plain(token))
        elif token.type in ("fence", "code_block"):
            texts.append(token.content.strip())
        if token.map and token.level == 0 and not token.type.endswith("_close"):
            spans.append((token.map[0], token.map[1]))
    close()
    return found


def _plain(token: Token) -> str:
    """The text of an inline token without markup (links keep their words)."""
    words = [
        child.content for child in token.children or [] if child.type in ("text", "code_inline")
    ]
    return " ".join(" ".join(words).split())


def chunks(doc_id: str, title: str, body: str) -> list[Chunk]:
    found: list[Chunk] = []
    for section in sections(title, body):
        words = section.text.split()
        step = CHUNK_WORDS - OVERLAP_WORDS
        starts = range(0, max(1, len(words) - OVERLAP_WORDS), step) if words else []
        for part, start in enumerate(starts, start=1):
            text = " ".join(words[start : start + CHUNK_WORDS])
            suffix = "" if part == 1 else f"~{part}"
            heading_path = " > ".join(section.path)
            found.append(
                Chunk(
                    chunk_id=f"{doc_id}#{section.anchor}{suffix}",
                    ordinal=len(found),
                    heading=section.path[-1],
                    heading_path=heading_path,
                    anchor=section.anchor,
                    text=text,
                    source=section.source,
                    content_hash=hashlib.sha256(f"{heading_path}\n{text}".encode()).hexdigest(),
                )
            )
    return found


def render(body: str) -> str:
    """Safe HTML of an article: headings carry the anchors chunks cite, nothing executable."""
    parser = _parser()
    tokens = parser.parse(body)
    for index, anchor in _anchors(tokens).items():
        tokens[index].attrSet("id", anchor)
    return sanitised(parser.renderer.render(tokens, parser.options, {}))


def sanitised(
    html: str,
    *,
    tags: set[str] = ALLOWED_TAGS,
    attributes: dict[str, set[str]] = ALLOWED_ATTRIBUTES,
) -> str:
    """HTML with only the given tags and attributes (by default, an article's), no script,
    no event handler, no style, and links that open nothing of ours to the target."""
    return nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
