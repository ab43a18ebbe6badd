"""A small OpenAI-compatible chat server for tests: streams a scripted reply token by token
(`/v1/chat/completions`, stream or not), lists its model (`/v1/models`), records the messages
it was given, and can be slow, failing or unreachable like a real one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from tests.json_handler import JsonHandler

Reply = Callable[[list[dict[str, Any]]], str]


class FakeLLM:
    def __init__(
        self,
        *,
        reply: str | Reply = "Here is what I found.",
        delay_s: float = 0.0,
        first_token_delay_s: float = 0.0,
        failing: bool = False,
        calls: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> None:
        self.reply = reply
        # Function calls (name, arguments) made, split in pieces, when tools are offered and
        # no tool result has come back yet.
        self.calls = list(calls)
        self.delay_s = delay_s
        self.first_token_delay_s = first_token_delay_s
        self.failing = failing
        self.requests: list[dict[str, Any]] = []
        self.listings = 0  # GET /v1/models
        self.disconnected = threading.Event()  # a client closed a stream before its end
        fake = self

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                fake.listings += 1
                if self.path.rstrip("/") != "/v1/models":
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                elif fake.failing:
                    self._json(503, {"error": {"message": "model overloaded"}})
                else:
                    model = {"id": "fake-model", "object": "model", "owned_by": "tests"}
                    self._json(200, {"object": "list", "data": [model]})

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if fake.failing:
                    self._json(503, {"error": {"message": "model overloaded"}})
                    return
                answered = any(m.get("role") == "tool" for m in body["messages"])
                if fake.calls and body.get("tools") and not answered and body.get("stream"):
                    self._calls(body.get("model", "fake"))
                    return
                text = fake.reply(body["messages"]) if callable(fake.reply) else fake.reply
                tokens = [word + " " for word in text.split(" ")]
                tokens[-1] = tokens[-1].rstrip()
                if body.get("stream"):
                    self._stream(tokens, body.get("model", "fake"))
                else:
                    self._json(200, fake.completion(text, body.get("model", "fake")))

            def _stream(self, tokens: list[str], model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    time.sleep(fake.first_token_delay_s)
                    for token in tokens:
                        self._chunk(fake.chunk(model, content=token))
                        time.sleep(fake.delay_s)
                    self._chunk(fake.chunk(model, finish=True))
                    usage = {"prompt_tokens": 100, "completion_tokens": len(tokens)}
                    self._chunk({**fake.chunk(model), "choices": [], "usage": usage})
                    self._write(b"data: [DONE]\n\n")
                    self._write(b"")
                except (BrokenPipeError, ConnectionResetError):
                    fake.disconnected.set()

            def _calls(self, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for index, (name, arguments) in enumerate(fake.calls):
                    head = {"index": index, "id": f"call_{index}", "type": "function"}
                    text = json.dumps(arguments)
                    pieces = [
                        head | {"function": {"name": name, "arguments": text[:5]}},
                        {"index": index, "function": {"arguments": text[5:]}},
                    ]
                    for piece in pieces:
                        chunk = fake.chunk(model)
                        chunk["choices"][0]["delta"] = {"tool_calls": [piece]}
                        self._chunk(chunk)
                done = fake.chunk(model)
                done["choices"][0]["finish_reason"] = "tool_calls"
                self._chunk(done)
                usage = {"prompt_tokens": 100, "completion_tokens": 5}
                self._chunk({**fake.chunk(model), "choices": [], "usage": usage})
                self._write(b"data: [DONE]\n\n")
                self._write(b"")

            def _chunk(self, payload: dict[str, Any]) -> None:
                self._write(f"data: {json.dumps(payload)}\n\n".encode())

            def _write(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @staticmethod
    def chunk(model: str, *, content: str | None = None, finish: bool = False) -> dict[str, Any]:
        delta = {} if content is None else {"content": content}
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}],
        }

    @staticmethod
    def completion(text: str, model: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(text.split())},
        }

    def last_prompt(self) -> str:
        return "\n".join(m["content"] for m in self.requests[-1]["messages"])

    def __enter__(self) -> FakeLLM:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
