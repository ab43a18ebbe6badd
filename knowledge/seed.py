"""The seed corpus: help articles under knowledge/seed/, each Markdown with front matter."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from knowledge.services import DocumentInput

SEED_DIR = Path(__file__).with_name("seed")


def _value(raw: str) -> str | list[str] | None:
    raw = raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        return [item.strip() for item in raw[1:-1].split(",") if item.strip()]
    return raw or None


def parse(text: str) -> DocumentInput:
    """Front matter between `---` lines (doc_id, title, tags, effective_from/to), then Markdown."""
    if not text.startswith("---\n"):
        raise ValueError("expected front matter between --- lines")
    header, _, body = text[4:].partition("\n---\n")
    fields = {}
    for line in header.splitlines():
        name, _, raw = line.partition(":")
        fields[name.strip()] = _value(raw)
    start, end = fields.get("effective_from"), fields.get("effective_to")
    tags = fields.get("tags") or []
    return DocumentInput(
        doc_id=str(fields["doc_id"]),
        title=str(fields["title"]),
        body=body.lstrip("\n"),
        tags=list(tags) if isinstance(tags, list) else [tags],
        effective_from=date.fromisoformat(str(start)) if start else None,
        effective_to=date.fromisoformat(str(end)) if end else None,
    )


def seed_documents(directory: Path = SEED_DIR) -> list[DocumentInput]:
    return [parse(path.read_text()) for path in sorted(directory.glob("*.md"))]
