"""The development stack's servers on free ports in a temporary directory, for one test
session or one benchmark run, and gone when it ends."""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile
from pathlib import Path

from devstack.stack import Infrastructure


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_throwaway_stack(*, prefix: str) -> Infrastructure:
    """PostgreSQL, the broker and Redis on free ports under a new temporary directory,
    stopped and removed at exit (also after a failed start)."""
    data_root = Path(tempfile.mkdtemp(prefix=prefix))
    data_root.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root
    stack = Infrastructure.from_urls(
        data_root=data_root,
        database_url=f"postgres://postgres@127.0.0.1:{free_port()}/travelbot",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
    )
    atexit.register(discard_stack, stack)
    stack.start()
    return stack


def discard_stack(stack: Infrastructure) -> None:
    """Stop the servers and remove their data; doing it twice does nothing more."""
    stack.stop()
    shutil.rmtree(stack.data_root, ignore_errors=True)
