"""`make run`: the whole stack in one command, stopped by Ctrl-C.

Starts PostgreSQL+pgvector, the Kafka-protocol broker and Redis on loopback
ports taken from the same variables the settings read, migrates, creates topics
and demo users, then runs the web server, a Celery worker (which consumes the
streams), Celery beat, the feed simulator and, when no OPENAI_BASE_URL is given,
a local chat model at the default one; and supervises them all: an app process
that exits is restarted with backoff (and says so); a server that dies is named
in one line and the stack stops.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from accounts.demo import DEMO_ACCOUNTS
from devstack.localmodel import endpoint_address
from devstack.servers import (
    StackError,
    reachable_by,
    require_free_port,
    stop_process,
)
from devstack.stack import Infrastructure

ROOT = Path(__file__).resolve().parents[1]
# A process that ran this long before exiting starts again at once; quicker exits back off.
STABLE_AFTER_S = 60.0
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class Options:
    data_root: Path
    web_host: str
    web_port: int
    simulate: bool
    simulator_rate: str
    simulator_days: str
    # No model endpoint named: serve the local one where the settings' default points.
    serve_model: bool

    @classmethod
    def from_env(cls) -> Options:
        env = os.environ
        return cls(
            data_root=Path(env.get("TRAVELBOT_DATA_DIR", str(ROOT / "var"))).resolve(),
            web_host=env.get("WEB_HOST", "127.0.0.1"),
            web_port=int(env.get("WEB_PORT", "8000")),
            simulate=env.get("SIMULATE_FEEDS", "1").lower() in {"1", "true", "yes", "on"},
            simulator_rate=env.get("SIMULATOR_RATE", "20"),
            simulator_days=env.get("SIMULATOR_DAYS", "60"),
            serve_model=not env.get("OPENAI_BASE_URL"),
        )

    @property
    def postgres_root(self) -> Path:
        """PostgreSQL's data, where the unprivileged user it runs as (when we are root) can
        reach it: under the data directory, or beside it in /var/lib when that is private."""
        default = self.data_root / "postgres"
        if os.geteuid() != 0 or "TRAVELBOT_DATA_DIR" in os.environ:
            return default
        self.data_root.mkdir(parents=True, exist_ok=True)
        if reachable_by(default):
            return default
        tag = hashlib.sha256(str(self.data_root).encode()).hexdigest()[:10]
        return Path("/var/lib/travelbot") / tag / "postgres"


def development_environment(data_root: Path) -> dict[str, str]:
    """What `make run` sets unless the environment says otherwise: development mode and a
    secret key kept under the data directory, so sessions survive a restart."""
    key_file = data_root / "secret_key"
    if not key_file.exists():
        data_root.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return {"DEBUG": "1", "SECRET_KEY": key_file.read_text().strip()}


@dataclass
class Managed:
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Owns the app processes: each in its own session, logs under var/log, restarted with
    backoff when it exits, stopped in reverse order."""

    log_dir: Path
    env: dict[str, str]
    managed: dict[str, Managed] = field(default_factory=dict)

    def run_once(self, name: str, command: list[str]) -> None:
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            result = subprocess.run(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        if result.returncode != 0:
            raise StackError(
                f"`{' '.join(command[1:])}` failed (exit {result.returncode}); see {log}."
            )

    def start(self, name: str, command: list[str]) -> None:
        entry = self.managed.setdefault(name, Managed(command=command))
        with open(self.log_dir / f"{name}.log", "ab") as out:
            entry.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        entry.started_at = time.monotonic()
        entry.restart_at = None

    def first_exited(self, *, ignoring: frozenset[str] = frozenset()) -> tuple[str, int] | None:
        for name, entry in self.managed.items():
            if name in ignoring:
                continue
            if entry.process is not None and entry.process.poll() is not None:
                return name, entry.process.returncode
        return None

    def keep_alive(self) -> list[str]:
        """Schedule restarts of exited processes and start those due; what happened, in lines."""
        said: list[str] = []
        now = time.monotonic()
        for name, entry in self.managed.items():
            if entry.restart_at is None and entry.process is not None:
                code = entry.process.poll()
                if code is None:
                    continue
                stable = now - entry.started_at >= STABLE_AFTER_S
                entry.failures = 1 if stable else entry.failures + 1
                delay = min(BACKOFF_MAX_S, 2.0 ** (entry.failures - 1)) if not stable else 0.0
                entry.restart_at = now + delay
                said.append(
                    f"{name} exited with code {code}; restarting in {delay:.0f} s "
                    f"(see {self.log_dir / (name + '.log')})"
                )
            if entry.restart_at is not None and now >= entry.restart_at:
                self.start(name, entry.command)
                said.append(f"{name} restarted")
        return said

    def stop_all(self) -> None:
        for entry in reversed(list(self.managed.values())):
            stop_process(entry.process, timeout_s=20)


def wait_for_ready(
    url: str, *, timeout_s: float, supervisor: Supervisor, ignoring: frozenset[str]
) -> None:
    """Until `url` (/readyz) passes every check but those ignored, which name processes that
    may also exit meanwhile: the supervisor restarts them once the stack is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (exited := supervisor.first_exited(ignoring=ignoring)) is not None:
            raise StackError(
                f"{exited[0]} exited with code {exited[1]} while starting; "
                f"see {supervisor.log_dir / (exited[0] + '.log')}."
            )
        if ready_apart_from(url, ignoring=ignoring):
            return
        time.sleep(0.3)
    raise StackError(f"{url} did not answer 200 within {timeout_s:.0f}s; see {supervisor.log_dir}.")


def ready_apart_from(url: str, *, ignoring: frozenset[str]) -> bool:
    """A 200, or a 503 whose failing checks are all ignored: a model still loading need not
    hold up the stack, and /readyz keeps saying when it is ready."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        try:
            checks = json.loads(exc.read())["checks"]
        except (ValueError, KeyError, TypeError):
            return False
        return exc.code == 503 and all(c["ok"] for n, c in checks.items() if n not in ignoring)
    except OSError:
        return False


def model_answers(base_url: str, api_key: str) -> bool:
    """The model's endpoint lists its models: it is up and, for llama.cpp, done loading.
    (/readyz leaves the model out: a web process serves pages without it.)"""
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class ModelWatch:
    """Says once, in `make run`'s log, when the model starts answering."""

    base_url: str
    api_key: str
    ready: bool = False
    next_check_at: float = 0.0

    def poll(self, now: float) -> str | None:
        if self.ready or now < self.next_check_at:
            return None
        self.next_check_at = now + 2.0
        self.ready = model_answers(self.base_url, self.api_key)
        return f"the model at {self.base_url} is ready" if self.ready else None


def app_commands(options: Options) -> dict[str, list[str]]:
    python = sys.executable
    commands: dict[str, list[str]] = {}
    if options.serve_model:
        # First, as it takes longest to be ready; --install covers a LOCAL_MODEL other than
        # the default that `make local-model` installs.
        commands["model"] = [python, "-m", "devstack.localmodel", "--install"]
    commands |= {
        "web": [
            python,
            "-m",
            "uvicorn",
            "travelbot.asgi:application",
            "--host",
            options.web_host,
            "--port",
            str(options.web_port),
            "--no-access-log",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "travelbot",
            "worker",
            "-l",
            "INFO",
            "--concurrency",
            "2",
            "-n",
            "worker@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "travelbot",
            "beat",
            "-l",
            "INFO",
            "-s",
            str(options.data_root / "celerybeat-schedule"),
        ],
    }
    if options.simulate:
        commands["simulator"] = [
            python,
            "-m",
            "simulator",
            "--rate",
            options.simulator_rate,
            "--days",
            options.simulator_days,
            "--customers",
            "5000",
        ]
    return commands


def model_summary(options: Options, *, name: str, base_url: str, local_model: str) -> str:
    if options.serve_model:
        return f"{local_model} at {base_url} as {name}  (this log says when it is ready)"
    return f"{name} at {base_url}"


def print_banner(options: Options, infra: Infrastructure, log_dir: Path, *, model: str) -> None:
    base = f"http://{options.web_host}:{options.web_port}"
    simulator = f"on, {options.simulator_rate} changes/s" if options.simulate else "off"
    lines = [
        "",
        "travelbot is running. Ctrl-C stops everything.",
        f"  web          {base}/  (stream health: {base}/staff/streams/, admin: {base}/admin/)",
        f"  health       {base}/healthz  {base}/readyz  {base}/metrics",
        f"  postgres     {infra.postgres.url}  (data: {infra.postgres.data_dir})",
        f"  kafka        {infra.kafka.bootstrap}  (in-memory broker)",
        f"  redis        {infra.redis.url}",
        f"  simulator    {simulator}",
        f"  model        {model}",
        f"  logs         {log_dir}/",
        "  demo logins  "
        + ", ".join(f"{a.role}: {a.username} / {a.password}" for a in DEMO_ACCOUNTS),
        "",
    ]
    print("\n".join(lines), flush=True)


def run(options: Options) -> int:
    os.environ.update({**development_environment(options.data_root), **os.environ})
    from travelbot import settings as defaults  # reads the environment just set

    infra = Infrastructure.from_urls(
        data_root=options.data_root,
        postgres_root=options.postgres_root,
        database_url=defaults.DATABASE_URL,
        redis_url=defaults.REDIS_URL,
        kafka_bootstrap=",".join(defaults.KAFKA_BOOTSTRAP_SERVERS),
    )
    infra.require_free_ports()
    require_free_port(options.web_port, server="The web server", variable="WEB_PORT")
    if options.serve_model:
        require_free_port(
            endpoint_address(defaults.OPENAI_BASE_URL)[1],
            server="The local model",
            variable="OPENAI_BASE_URL",
        )
    log_dir = options.data_root / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(log_dir, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print("starting postgres, redis and kafka ...", flush=True)
    infra.start()
    try:
        manage = [sys.executable, "manage.py"]
        setup = (
            ["migrate", "--noinput"],
            ["create_topics"],
            ["seed_demo_users"],
            ["seed_knowledge"],
        )
        for step in setup:
            print(f"manage.py {' '.join(step)} ...", flush=True)
            supervisor.run_once("setup", manage + step)
        for name, command in app_commands(options).items():
            supervisor.start(name, command)
        wait_for_ready(
            f"http://{options.web_host}:{options.web_port}/readyz",
            timeout_s=90,
            supervisor=supervisor,
            ignoring=frozenset({"model"}),
        )
        model = model_summary(
            options,
            name=defaults.OPENAI_MODEL,
            base_url=defaults.OPENAI_BASE_URL,
            local_model=defaults.LOCAL_MODEL,
        )
        print_banner(options, infra, log_dir, model=model)
        watch = ModelWatch(defaults.OPENAI_BASE_URL, defaults.OPENAI_API_KEY)
        while not stopping:
            if (said := watch.poll(time.monotonic())) is not None:
                print(f"make run: {said}", flush=True)
            if (dead := infra.first_dead()) is not None:
                raise StackError(f"{dead}; stopping everything.")
            for line in supervisor.keep_alive():
                print(f"make run: {line}", flush=True)
            time.sleep(0.5)
        print("\nstopping ...", flush=True)
        return 0
    finally:
        supervisor.stop_all()
        infra.stop()


def main() -> None:
    try:
        sys.exit(run(Options.from_env()))
    except StackError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
