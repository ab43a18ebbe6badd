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

from django.conf import settings
from openai import APIConnectionError, APIError, APITimeoutError, AsyncOpenAI

logger = logging.getLogger(__name__)

RETRIES_BEFORE_FIRST_TOKEN = 2
RETRY_BACKOFF_S = 0.5


class ModelUnavailable(Exception):
    """The model could not be reached or failed before answering; the message says why."""


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
    messages: list[dict[str, str]], *, usage: list[Usage]
) -> AsyncIterator[str]:
    """Text deltas of the answer. Appends the token usage to `usage` when the server reports
    it. Raises ModelUnavailable when no token came after the retries."""
    for attempt in range(RETRIES_BEFORE_FIRST_TOKEN + 1):
        started = False
        try:
            stream = await client().chat.completions.create(  # type: ignore[call-overload]
                model=settings.OPENAI_MODEL,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=settings.OPENAI_MAX_TOKENS,
                temperature=0.2,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage.append(
                            Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                        )
                    if chunk.choices and chunk.choices[0].delta.content:
                        started = True
                        yield chunk.choices[0].delta.content
            return
        except (APIConnectionError, APITimeoutError, APIError) as exc:
            if started:
                raise ModelUnavailable(f"the model stopped answering: {_reason(exc)}") from exc
            if attempt == RETRIES_BEFORE_FIRST_TOKEN:
                raise ModelUnavailable(f"the model is unreachable: {_reason(exc)}") from exc
            logger.warning("model request failed (%s); retrying", _reason(exc))
            await asyncio.sleep(RETRY_BACKOFF_S * (attempt + 1))


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' {status}' if status else ''}: {exc}"[:300]
