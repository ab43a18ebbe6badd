"""Text in an article that addresses the assistant rather than the traveller.

Help articles are untrusted data to the chat model. A passage that gives instructions to an
AI ("ignore previous instructions"), carries role markers, or hides text in HTML is flagged:
admins see the passage in the editor, and the chunk carries the flag into the chat's prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for reason, pattern in (
        (
            "tells the assistant to ignore its instructions",
            r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|"
            r"all|your|system)\b[^.\n]{0,20}\b(instructions?|prompts?|rules|guidelines)\b",
        ),
        (
            "speaks to the assistant as an AI",
            r"\b(you are (now )?(an? )?(ai|assistant|language model|chatbot|gpt)|as an ai\b|"
            r"(dear|attention)[ ,]+(ai|assistant|model|bot)\b)",
        ),
        (
            "asks for the system prompt or other people's data",
            r"\b(reveal|print|show|repeat|list|output)\b[^.\n]{0,40}\b(system prompt|instructions|"
            r"(other )?(customers|travellers|travelers|users|passengers)'? "
            r"(emails?|data|details|phone))",
        ),
        (
            "carries a chat role marker",
            r"^\s*(system|assistant|developer)\s*:|<\|im_(start|end)\|>",
        ),
        ("hides text in HTML", r"<!--|display\s*:\s*none|visibility\s*:\s*hidden|<[^>]+\bhidden\b"),
        ("hides text in invisible characters", r"[\u200b-\u200f\u2060-\u2064\ufeff]"),
    )
)


@dataclass(frozen=True)
class Finding:
    reason: str
    passage: str


def scan(text: str) -> list[Finding]:
    """Every instruction-like passage of `text`, with what it does."""
    findings = []
    for reason, pattern in PATTERNS:
        for match in pattern.finditer(text):
            start = max(0, match.start() - 60)
            passage = text[start : match.end() + 60].strip()
            findings.append(Finding(reason, " ".join(passage.split())))
    return findings
