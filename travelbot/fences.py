"""The fences that mark untrusted text in what we send a model.

Data (a traveller's comment, a policy excerpt, a hotel's name, a tool's answer) goes between
tags such as <context> and </context>; the instructions tell the model that what is inside
is data, never instructions. Data that could close a fence could step outside it, so every
untrusted text is escaped here, with the one list of our fences' tags.
"""

from __future__ import annotations

import re

FENCE_TAGS = ("context", "untrusted", "tool_result", "comment")

_CLOSING = re.compile("</(?=(?:" + "|".join(FENCE_TAGS) + "))")


def fenced(text: str) -> str:
    """Untrusted text as it goes inside a fence: it cannot close any of our fences."""
    return _CLOSING.sub("&lt;/", text)
