"""Admission: 200 travellers ask at once, with the default limits, against a fake model.

One uvicorn process serves the app; the fake OpenAI-compatible model of the chat benchmark
(benchmarks/_fake_stream.py, its own process) streams each answer as --tokens tokens
--interval-ms apart. Every traveller has an account, a session and an address of their own
(sent as X-Forwarded-For, which the app trusts here with TRUSTED_PROXY_HEADER, as it would
behind a proxy), opens a websocket and asks once, all at the same moment. Measured: from the
ask to the context cards (p50/p95/max), to the end of the answer, and how many were answered,
told "busy" (and the Retry-After they were given) or refused otherwise.

    python benchmarks/admission.py [--travellers 200] [--tokens 40] [--interval-ms 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--travellers", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--interval-ms", type=int, default=25)
    parser.add_argument("--timeout-s", type=float, default=120.0)
    parser.add_argument("--output", default="admission.json")
    return parser.parse_args(argv)


@dataclass
class Outcome:
    kind: str = ""  # answered, busy, rate_limited, error
    context_ms: float | None = None
    done_ms: float | None = None
    retry_after: int | None = None
    detail: str = ""


async def ask_once(
    port: int, cookie: str, address: str, question: str, timeout_s: float
) -> Outcome:
    from websockets.asyncio.client import connect

    outcome = Outcome()
    try:
        async with asyncio.timeout(timeout_s):
            async with connect(
                f"ws://127.0.0.1:{port}/ws/chat/",
                origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie, "X-Forwarded-For": address},
                open_timeout=timeout_s,
                ping_interval=None,
                max_queue=None,
            ) as ws:
                asked = time.monotonic()
                await ws.send(json.dumps({"type": "ask", "message": question}))
                async for raw in ws:
                    frame = json.loads(raw)
                    elapsed_ms = (time.monotonic() - asked) * 1000
                    if frame["type"] == "context" and outcome.context_ms is None:
                        outcome.context_ms = elapsed_ms
                    elif frame["type"] == "done":
                        outcome.kind, outcome.done_ms = "answered", elapsed_ms
                        outcome.detail = "" if frame["status"] == "answered" else frame["status"]
                        return outcome
                    elif frame["type"] == "error":
                        outcome.kind = frame.get("error") or "error"
                        outcome.retry_after = frame.get("retry_after")
                        outcome.detail = frame.get("message", "")
                        return outcome
    except Exception as exc:  # noqa: BLE001 - reported per traveller
        outcome.kind, outcome.detail = "error", f"{type(exc).__name__}: {exc}"
    return outcome


def everyone_asks(args: argparse.Namespace, port: int, cookies: list[str]) -> list[Outcome]:
    question = f"bench:{args.tokens}:{args.interval_ms} what is the checked baggage allowance?"
    addresses = [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(len(cookies))]

    async def run() -> list[Outcome]:
        return list(
            await asyncio.gather(
                *(
                    ask_once(port, cookie, address, question, args.timeout_s)
                    for cookie, address in zip(cookies, addresses, strict=True)
                )
            )
        )

    return asyncio.run(run())


def summary(outcomes: list[Outcome], wall_s: float) -> dict[str, Any]:
    contexts = sorted(o.context_ms for o in outcomes if o.context_ms is not None)
    done = sorted(o.done_ms for o in outcomes if o.done_ms is not None)
    kinds = Counter(o.kind for o in outcomes)
    busy_waits = sorted(o.retry_after for o in outcomes if o.kind == "busy" and o.retry_after)
    return {
        "travellers": len(outcomes),
        "answered": kinds["answered"],
        "busy": kinds["busy"],
        "rate_limited": kinds["rate_limited"],
        "other_errors": sum(
            n for k, n in kinds.items() if k not in {"answered", "busy", "rate_limited"}
        ),
        "ask_to_context_p50_ms": round(_stack.quantile(contexts, 0.5), 1),
        "ask_to_context_p95_ms": round(_stack.quantile(contexts, 0.95), 1),
        "ask_to_context_max_ms": round(contexts[-1], 1) if contexts else None,
        "ask_to_done_p50_ms": round(_stack.quantile(done, 0.5), 1),
        "ask_to_done_p95_ms": round(_stack.quantile(done, 0.95), 1),
        "busy_retry_after_s": sorted(set(busy_waits)),
        "wall_s": round(wall_s, 1),
        "errors": sorted({o.detail for o in outcomes if o.kind == "error"})[:5],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # The web process reads the caller's address from the header, as behind a proxy.
    os.environ["TRUSTED_PROXY_HEADER"] = "HTTP_X_FORWARDED_FOR"
    _stack.setup()
    from django.conf import settings

    from benchmarks.chat import Servers, session_cookies

    servers = Servers()
    try:
        cookies = session_cookies(args.travellers, prefix="bench-admission-")
        started = time.monotonic()
        outcomes = everyone_asks(args, servers.web_port, cookies)
        result = summary(outcomes, time.monotonic() - started)
    finally:
        servers.stop()
    limits = {
        name: getattr(settings, name)
        for name in (
            "CHAT_ASKS_PER_MINUTE",
            "CHAT_ASKS_PER_MINUTE_PER_ADDRESS",
            "CHAT_CONCURRENT_TURNS",
            "CHAT_MODEL_CONCURRENCY",
            "CHAT_MODEL_QUEUE",
            "CHAT_MODEL_QUEUE_WAIT_S",
            "CHAT_BUSY_RETRY_AFTER_S",
        )
    }
    print(
        _stack.table(
            ["figure", "value"],
            [(k, v) for k, v in result.items() if k != "errors"],
            title=f"{args.travellers} travellers ask at once (answers {args.tokens} tokens "
            f"{args.interval_ms} ms apart)",
        )
    )
    payload = {
        "benchmark": "admission",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": vars(args) | {"limits": limits},
        "result": result,
    }
    _stack.write_result(args.output, payload)
    return payload


if __name__ == "__main__":
    main()
