"""The fences that mark untrusted text in what we send a model, and the one sanitiser.

Data (a traveller's comment, a policy excerpt, a hotel's name, a CRM preference, a tool's
answer) goes between tags such as <context> and </context>; the instructions tell the model
that what is inside is data, never instructions. Every third-party text that enters a prompt
goes through `untrusted` (or `fence`, which also wraps it), so that:

- it cannot close one of our fences and step outside it;
- it carries none of the chat templates' special tokens (`<|im_start|>`, `[INST]`, `<s>`...):
  an inference server that reads them in message text (llama.cpp can) would let the data
  open a system turn of its own;
- it carries no control or invisible formatting characters, which hide text from the people
  who review it and can split a token the scan above would otherwise see.
"""

from __future__ import annotations

import re
import unicodedata

FENCE_TAGS = ("context", "untrusted", "tool_result", "comment")

_CLOSING = re.compile("</(?=(?:" + "|".join(FENCE_TAGS) + r")\b)", re.IGNORECASE)

# The turn and role markers of the chat templates of ChatML/Qwen (`<|im_start|>`), Llama 3
# (`<|start_header_id|>`), Phi (`<|user|>`), DeepSeek (full-width bars), Llama 2 and Mistral
# (`[INST]`, `<<SYS>>`, `<s>`), Gemma (`<start_of_turn>`) and the tool and reasoning tags of
# Qwen and Hermes templates. Any `<|...|>` is one: every such template spells them that way.
SPECIAL_TOKENS = re.compile(
    r"<\|[^|<>\n]{0,64}\|>"
    r"|<\uff5c[^\uff5c<>\n]{0,64}\uff5c>"
    r"|\[/?(?:INST|SYS|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CONTENT"
    r"|IMG|IMG_BREAK|IMG_END|PREFIX|MIDDLE|SUFFIX)\]"
    r"|<</?SYS>>"
    r"|</?(?:s|unk|pad|bos|eos|start_of_turn|end_of_turn|start_of_image|end_of_image"
    r"|tool_call|tool_response|tools|think|im_start|im_end)>",
    re.IGNORECASE,
)
# Line and tab breaks stay (excerpts have paragraphs); other control characters (C0, DEL,
# C1) and invisible formatting ones (zero-width, bidirectional overrides) go.
_KEPT_CONTROLS = frozenset("\n\t")


_LINE_BREAKS = re.compile("\r\n?|[\u0085\u2028\u2029]")


def _visible(text: str) -> str:
    return "".join(
        ch
        for ch in _LINE_BREAKS.sub("\n", text)
        if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cf")
    )


def untrusted(text: str) -> str:
    """Third-party text as it may go inside a fence: no control characters, no special
    tokens (removed until none is left, so a token split by another cannot reassemble), and
    unable to close any of our fences."""
    text = _visible(text)
    while True:
        stripped = SPECIAL_TOKENS.sub("", text)
        if stripped == text:
            break
        text = stripped
    return _CLOSING.sub("&lt;/", text)


def untrusted_line(text: str) -> str:
    """Third-party text of one line (a name, a field of a record): as `untrusted`, with any
    line breaks folded, so it cannot start a line of its own in the prompt."""
    return " ".join(untrusted(text).split())


def untrusted_attribute(text: str) -> str:
    """Third-party text as the value of a fence's attribute (`source="..."`)."""
    return untrusted_line(text).replace("&", "&amp;").replace('"', "&quot;").replace(">", "&gt;")


def fence(tag: str, text: str, **attributes: str) -> str:
    """`text` fenced as data between <tag ...> and </tag>, sanitised; the attributes' values
    are sanitised too."""
    if tag not in FENCE_TAGS:
        raise ValueError(f"{tag!r} is not one of our fences")
    attrs = "".join(f' {name}="{untrusted_attribute(value)}"' for name, value in attributes.items())
    return f"<{tag}{attrs}>\n{untrusted(text)}\n</{tag}>"
