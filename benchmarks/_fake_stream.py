"""A fake OpenAI-compatible model for the chat benchmark, run as its own process.

It streams numbered, timestamped tokens so that the client at the far end of the websocket
can check that every token arrived once and in order, and time each one from the moment
the model sent it. The first token, `r:<ns>`, says when the request reached the model, so
the time the app spends before the upstream request is measured end to end too.

The question chooses the shape of the answer: `bench:<tokens>:<interval_ms>` anywhere in the
last user message (default 20 tokens, 10 ms apart).

    python benchmarks/_fake_stream.py PORT
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

SHAPE = re.compile(r"bench:(\d+):(\d+)")


def _chunk(content: str | None = None, *, finish: bool = False, usage: Any = None) -> bytes:
    delta = {} if content is None else {"content": content}
    payload: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "bench",
        "choices": []
        if usage
        else [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}],
    }
    if usage:
        payload["usage"] = usage
    return f"data: {json.dumps(payload)}\n\n".encode()


def _shape(body: dict[str, Any]) -> tuple[int, float]:
    question = next(
        (m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
    )
    found = SHAPE.search(question)
    if found is None:
        return 20, 0.01
    return int(found.group(1)), int(found.group(2)) / 1000


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        arrived = time.time_ns()
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = json.loads(await reader.readexactly(length)) if length else {}
        tokens, interval = _shape(body)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        writer.write(_chunk(f"r:{arrived} "))
        await writer.drain()
        for n in range(tokens):
            await asyncio.sleep(interval)
            writer.write(_chunk(f"{n}:{time.time_ns()} "))
            await writer.drain()
        writer.write(_chunk(finish=True))
        writer.write(_chunk(usage={"prompt_tokens": 100, "completion_tokens": tokens + 1}))
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the app stopped the answer
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
