"""`make run`: the processes it supervises, its defaults, and its failures in one line."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.__main__ import (
    ModelWatch,
    Options,
    Supervisor,
    app_commands,
    development_environment,
    ready_apart_from,
)


def test_make_run_prints_one_line_when_a_port_is_taken(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "devstack"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
            env={
                "PATH": "/usr/bin:/bin",
                "TRAVELBOT_DATA_DIR": str(tmp_path),
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free()}/travelbot",
                "REDIS_URL": f"redis://127.0.0.1:{_free()}/0",
                "WEB_PORT": str(_free()),
            },
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"make run: Kafka broker cannot start: port {port} on 127.0.0.1 is already in use "
        "(set KAFKA_BOOTSTRAP_SERVERS to use another port, or stop whatever is listening there)."
    ]


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_crashed_app_process_is_restarted_with_backoff(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, env=dict(os.environ))
    supervisor.start("flaky", [sys.executable, "-c", "raise SystemExit(3)"])
    said: list[str] = []
    deadline = time.monotonic() + 10
    while "flaky restarted" not in said and time.monotonic() < deadline:
        said += supervisor.keep_alive()
        time.sleep(0.1)
    supervisor.stop_all()
    assert said[0].startswith("flaky exited with code 3; restarting in 1 s")
    assert "flaky restarted" in said
    assert supervisor.managed["flaky"].failures >= 1


def test_development_defaults_keep_one_secret_key_per_data_directory(tmp_path: Path) -> None:
    first = development_environment(tmp_path)
    assert first["DEBUG"] == "1" and len(first["SECRET_KEY"]) >= 50
    assert development_environment(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_without_a_model_endpoint_the_stack_serves_the_local_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    commands = app_commands(Options.from_env())
    assert commands["model"][1:3] == ["-m", "devstack.localmodel"]


def test_a_named_model_endpoint_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.com/v1")
    assert "model" not in app_commands(Options.from_env())


@pytest.mark.parametrize(
    ("failing", "ready"), [(set(), True), ({"model"}, True), ({"model", "database"}, False)]
)
def test_the_stack_does_not_wait_for_the_model_to_load(failing: set[str], ready: bool) -> None:
    checks = {name: {"ok": name not in failing} for name in ("database", "streams", "model")}
    body = json.dumps({"checks": checks}).encode()

    class Readyz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
        assert ready_apart_from(url, ignoring=frozenset({"model"})) is ready
    finally:
        server.shutdown()
        server.server_close()


def test_make_run_says_once_when_the_model_starts_answering() -> None:
    from harness.stack import free_port
    from tests.chat.fake_llm import FakeLLM

    port = free_port()
    silent = ModelWatch(f"http://127.0.0.1:{port}/v1", "key")
    assert silent.poll(0.0) is None and silent.poll(1.0) is None  # not asked again so soon
    with FakeLLM() as fake:
        watch = ModelWatch(fake.url, "key")
        assert watch.poll(0.0) == f"the model at {fake.url} is ready"
        assert watch.poll(10.0) is None and fake.listings == 1
