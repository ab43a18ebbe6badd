"""The embedded stack for benchmarks: PostgreSQL+pgvector, tansu and Redis on free ports.

As for the test suite (harness/pytest_plugin.py): the servers start, the environment points
at them, and only then is Django set up (the settings read the environment once). If
DATABASE_URL, REDIS_URL and KAFKA_BOOTSTRAP_SERVERS are all set already (run_all.py does
this for its children, or point them at your own servers), nothing is started.

Also the bits every benchmark shares: machine facts, medians, tables and JSON results.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import platform
import secrets
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
STACK_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")
INVENTORY_TABLES = ("inventory_flight", "inventory_fare", "inventory_hotel", "inventory_hotelrate")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.stack import discard_stack, start_throwaway_stack  # noqa: E402

_stack: Any = None
_django_ready = False
slow_io_warnings = 0  # kafka-python's "Task ... ran for Xs ... blocking the event loop"


class _CountSlowIo(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        global slow_io_warnings
        slow_io_warnings += 1
        return False


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the atexit hooks, which stop the servers


def start_stack() -> bool:
    """Start the servers unless the environment already names them. True if started here."""
    global _stack
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "travelbot.settings")
    os.environ["KAFKA_SESSION_TIMEOUT_MS"] = "6000"
    os.environ.setdefault("WORKER_STREAMS", "none")
    os.environ.setdefault("DEBUG", "0")  # as in production: no query log on every cursor
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # the test client speaks plain HTTP
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if all(os.environ.get(name) for name in STACK_VARIABLES) or _stack is not None:
        return False
    atexit.register(stop_stack)
    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    stack = start_throwaway_stack(prefix="travelbot-bench-")
    _stack = stack
    os.environ.update(stack.environment())
    print(
        f"embedded stack up in {time.monotonic() - started:.1f}s: {stack.postgres.url}, "
        f"kafka {stack.kafka.bootstrap}",
        flush=True,
    )
    return True


def stop_stack() -> None:
    global _stack
    if _stack is not None:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up
            pass
        discard_stack(_stack)
        _stack = None


def setup(*, migrate: bool = True) -> None:
    """Start (or reuse) the stack, set Django up and migrate. Idempotent."""
    global _django_ready
    if _django_ready:
        return
    start_stack()
    import django

    django.setup()
    logging.getLogger("kafka.net.selector").addFilter(_CountSlowIo())
    if migrate:
        from django.core.management import call_command

        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        print(f"migrated in {time.monotonic() - started:.1f}s", flush=True)
    _django_ready = True


def truncate_inventory(*, stream_stats: bool = True) -> None:
    from django.db import connection

    tables = list(INVENTORY_TABLES)
    if stream_stats:
        tables += ["travelbot_streambatch", "travelbot_streamstate", "travelbot_deadletter"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)}")


def analyze(tables: Sequence[str] = INVENTORY_TABLES) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    info["libraries"] = _libraries()
    if _django_ready:
        from travelbot.sql import fetch_value

        info["postgres"] = fetch_value("SHOW server_version")
    return info


def _libraries() -> dict[str, str]:
    """Versions and the implementations that matter for speed (C extension or pure Python)."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in ("Django", "kafka-python", "psycopg"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    try:
        from kafka.record import util

        found["kafka_crc32c"] = "C (crc32c package)" if util.crc32c_c is not None else "pure Python"
    except ImportError:
        pass
    try:
        import psycopg

        found["psycopg_impl"] = psycopg.pq.__impl__
    except ImportError:
        pass
    return found


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return float(sorted_values[rank - 1])


def write_result(name: str, payload: dict[str, Any]) -> Path:
    path = RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"wrote {shown}", flush=True)
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = "") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = [title] if title else []
    lines.append(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    )
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


PHASES = (
    "batches",
    "mean_batch",
    "poll_s",
    "decode_and_rest_s",
    "apply_s",
    "record_stats_s",
    "commit_offsets_s",
)


def phase_table(timings: dict[str, dict[str, Any]], *, title: str = "") -> str:
    """Seconds per runtime phase and topic, from `Timings.as_dict()` of each runner."""
    rows = [[topic, *(t[phase] for phase in PHASES)] for topic, t in timings.items()]
    headers = [
        "topic",
        "batches",
        "mean batch",
        "poll",
        "decode+",
        "apply (PG)",
        "stats",
        "offsets",
    ]
    return table(headers, rows, title=title)


# -- CPU accounting: who used the two cores during a measurement ----------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == parent:
                pids.append(int(entry.name))
    return pids


def _postmaster_pid() -> int | None:
    if _stack is not None:
        try:
            return int((_stack.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    if not _django_ready:
        return None
    # A stack started elsewhere (run_all.py): our backend's parent is the postmaster.
    from travelbot.sql import fetch_value

    backend = int(fetch_value("SELECT pg_backend_pid()"))
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _postgres_pids() -> list[int]:
    postmaster = _postmaster_pid()
    return [] if postmaster is None else [postmaster, *_children(postmaster)]


def _broker_pid() -> int | None:
    if _stack is not None:
        process = _stack.kafka.process
        return process.pid if process is not None else None
    listener = f"tcp://{os.environ.get('KAFKA_BOOTSTRAP_SERVERS', '').split(',')[0]}"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"tansu") and listener.encode() in argv:
                return int(entry.name)
    return None


def cpu_snapshot() -> dict[str, float]:
    """Cumulative CPU seconds of this process, our Postgres (postmaster + backends alive now),
    our broker, and the whole machine (busy and total), from /proc."""
    snap: dict[str, float] = {"wall": time.monotonic(), "python": time.process_time()}
    postgres = _postgres_pids()
    if postgres:
        snap["postgres"] = sum(_proc_cpu_s(pid) for pid in postgres)
    broker = _broker_pid()
    if broker is not None:
        snap["kafka"] = _proc_cpu_s(broker)
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        snap["machine_total"] = sum(values[:8]) / _TICKS
        snap["machine_busy"] = (sum(values[:8]) - idle) / _TICKS
    except (OSError, ValueError, IndexError):
        pass
    return snap


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two snapshots, per consumer, and 'other' (everything else on
    the machine: other people's processes count too on a shared box). Postgres backends that
    exited in between are missed, so its figure is a lower bound."""
    delta = {key: round(after[key] - before[key], 3) for key in after if key in before}
    if "machine_busy" in delta:
        ours = sum(delta.get(key, 0.0) for key in ("python", "postgres", "kafka"))
        delta["other"] = round(max(0.0, delta["machine_busy"] - ours), 3)
        delta["cores_busy"] = round(delta["machine_busy"] / max(delta["wall"], 1e-9), 2)
    return delta
