"""A small OpenAI-compatible /v1/embeddings server for tests: deterministic vectors (words
hashed into dimensions), and a switch that makes it fail like a service that is down."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import ThreadingHTTPServer

from tests.json_handler import JsonHandler


def vector(text: str, dimensions: int) -> list[float]:
    values = [0.0] * dimensions
    for word in text.lower().split():
        values[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeEmbeddings:
    def __init__(self, *, dimensions: int, failing: bool = False) -> None:
        self.dimensions = dimensions
        self.failing = failing
        self.calls = 0
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls += 1
                if fake.failing:
                    self._json(503, {"error": {"message": "embedding service unavailable"}})
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                self._json(
                    200,
                    {
                        "object": "list",
                        "model": body["model"],
                        "data": [
                            {
                                "object": "embedding",
                                "index": i,
                                "embedding": vector(t, fake.dimensions),
                            }
                            for i, t in enumerate(inputs)
                        ],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeEmbeddings:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
