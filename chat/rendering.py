"""An answer as safe HTML: Markdown rendered and sanitised, numbers not from our data marked."""

from __future__ import annotations

import html
import re

from knowledge.markdown import render


def answer_html(answer: str, ungrounded: list[str]) -> str:
    rendered = render(answer)
    for value in sorted(set(ungrounded), key=len, reverse=True):
        escaped = html.escape(value, quote=False)
        rendered = re.sub(
            rf"(?<![\w.]){re.escape(escaped)}(?![\w])",
            f'<mark class="ungrounded" title="not from our data">{escaped}</mark>'
            '<span class="ungrounded__note"> (not from our data)</span>',
            rendered,
        )
    return rendered
