"""The chat model behind any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp).

Streaming, with a connect/read timeout, and retries only before the first token: once text
has reached the traveller, a retry would repeat it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from openai import APIConnectionError, APIError, APITimeoutError, AsyncOpenAI

logger = logging.getLogger(__name__)

RETRIES_BEFORE_FIRST_TOKEN = 2
RETRY_BACKOFF_S = 0.5
UNREACHABLE = "the model is unreachable just now; please try again in a moment"
STOPPED_ANSWERING = "the model stopped answering; please try again in a moment"


class ModelUnavailable(Exception):
    """The model could not be reached or stopped answering. The message is for the
    traveller; `detail` (the upstream error, which can quote a key or an internal host) is
    for staff only."""

    def __init__(self, message: str, *, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass
class ToolCall:
    id: str = ""
    name: str = ""
    arguments: str = ""

    def message(self) -> dict[str, Any]:
        """The call as the assistant message that made it carries it."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


@dataclass(frozen=True)
class Usage:
    prompt: int = 0
    completion: int = 0


# One client (and connection pool) per event loop: a pool cannot outlive the loop it was
# made on, and tests or management commands may run several loops in one process.
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[tuple[str, str, float], AsyncOpenAI]
] = weakref.WeakKeyDictionary()


def client() -> AsyncOpenAI:
    config = (settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.OPENAI_TIMEOUT_S)
    loop = asyncio.get_running_loop()
    cached = _clients.get(loop)
    if cached is None or cached[0] != config:
        base_url, api_key, timeout_s = config
        made = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        cached = _clients[loop] = (config, made)
    return cached[1]


async def stream_answer(
    messages: list[dict[str, Any]],
    *,
    usage: list[Usage],
    tools: list[dict[str, Any]] | None = None,
    calls: list[ToolCall] | None = None,
) -> AsyncIterator[str]:
    """Text deltas of the answer. Appends the token usage to `usage` when the server reports
    it, and the function calls the model made (when offered `tools`) to `calls`. Raises
    ModelUnavailable when nothing came after the retries."""
    offered = {"tools": tools} if tools else {}
    for attempt in range(RETRIES_BEFORE_FIRST_TOKEN + 1):
        started = False
        pending: dict[int, ToolCall] = {}
        try:
            stream = await client().chat.completions.create(  # type: ignore[call-overload]
                model=settings.OPENAI_MODEL,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=settings.OPENAI_MAX_TOKENS,
                temperature=0.2,
                **offered,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage.append(
                            Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                        )
                    delta = chunk.choices[0].delta if chunk.choices else None
                    if delta is not None and delta.tool_calls:
                        started = True  # the model has answered: a retry would call again
                        _gather_calls(pending, delta.tool_calls)
                    if delta is not None and delta.content:
                        started = True
                        yield delta.content
            if calls is not None:
                calls += [pending[index] for index in sorted(pending)]
            return
        except (APIConnectionError, APITimeoutError, APIError) as exc:
            if started:
                raise ModelUnavailable(STOPPED_ANSWERING, detail=_reason(exc)) from exc
            if attempt == RETRIES_BEFORE_FIRST_TOKEN:
                raise ModelUnavailable(UNREACHABLE, detail=_reason(exc)) from exc
            logger.warning("model request failed (%s); retrying", _reason(exc))
            await asyncio.sleep(RETRY_BACKOFF_S * (attempt + 1))


def _gather_calls(pending: dict[int, ToolCall], deltas: list[Any]) -> None:
    """Function calls arrive in pieces: the id and name first, the arguments in parts."""
    for delta in deltas:
        call = pending.setdefault(delta.index, ToolCall())
        call.id = call.id or (delta.id or "")
        function = delta.function
        if function is not None:
            call.name = call.name or (function.name or "")
            call.arguments += function.arguments or ""


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {exc}"[:300]
