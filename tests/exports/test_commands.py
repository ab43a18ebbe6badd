"""`manage.py export_feedback`, end to end, to a directory and to an S3-compatible store."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pyarrow import fs
from pytest_django.fixtures import Settings

from exports.models import ExportRun
from harness.stack import free_port
from tests.exports.conftest import CANARIES, COMMENT, QUESTION, rated_turn, traveller

pytestmark = pytest.mark.django_db

MOTO_SERVER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "moto_server"


def export(*args: str) -> list[str]:
    out = StringIO()
    call_command("export_feedback", *args, stdout=out)
    return out.getvalue().splitlines()


def test_it_writes_jsonl_to_a_directory_and_then_only_new_rows(tmp_path: Path) -> None:
    bo = traveller("bo")
    rated_turn(bo, question="first")
    assert export("--format", "jsonl", "--to", str(tmp_path))[0].startswith("1 row(s)")
    rated_turn(bo, question="second")
    report = export("--format", "jsonl", "--to", str(tmp_path))
    [line] = Path(report[1].strip()).read_text().splitlines()
    assert json.loads(line)["messages"][1]["content"] == "second"
    assert len(list(tmp_path.glob("*.jsonl"))) == 2


def test_it_writes_scrubbed_parquet_partitions_to_a_directory(ana: User, tmp_path: Path) -> None:
    rated_turn(ana, question=QUESTION, comment=COMMENT, rating=-1)
    export("--format", "parquet", "--to", str(tmp_path))
    table = pq.read_table(tmp_path, partitioning="hive")
    assert table.num_rows == 1 and "date" in table.column_names
    text = json.dumps(table.to_pylist(), default=str).lower()
    assert [canary for canary in CANARIES if canary.lower() in text] == []


def test_it_refuses_an_s3_url_without_a_bucket() -> None:
    with pytest.raises(CommandError):
        export("--format", "jsonl", "--to", "s3://")


def test_it_refuses_an_s3_destination_outside_the_allowed_prefixes(settings: Settings) -> None:
    settings.EXPORTS_S3_PREFIXES = ["s3://lake/feedback"]
    with pytest.raises(CommandError, match="EXPORTS_S3_PREFIXES: s3://lake/feedback"):
        export("--format", "jsonl", "--to", "s3://lake/elsewhere")
    assert not ExportRun.objects.exists()


@pytest.fixture
def s3(settings: Settings) -> Iterator[fs.S3FileSystem]:
    """A moto S3 server on a free loopback port, with an empty bucket "lake"."""
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        settings.EXPORTS_S3_PREFIXES = ["s3://lake"]
        settings.EXPORTS_S3_ENDPOINT_URL = f"http://127.0.0.1:{port}"
        settings.EXPORTS_S3_ACCESS_KEY_ID = "testing"
        settings.EXPORTS_S3_SECRET_ACCESS_KEY = "testing"
        store = fs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        store.create_dir("lake")
        yield store
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_for(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"moto_server did not listen on {port}")


def test_it_writes_parquet_to_s3(s3: fs.S3FileSystem) -> None:
    turn = rated_turn(traveller("bo"))
    export("--format", "parquet", "--to", "s3://lake/feedback/")
    table = pq.read_table("lake/feedback", filesystem=s3, partitioning="hive")
    assert table.column("turn_id").to_pylist() == [str(turn.id)]


def test_it_writes_jsonl_to_s3_and_then_only_new_rows(s3: fs.S3FileSystem) -> None:
    bo = traveller("bo")
    rated_turn(bo, question="first")
    export("--format", "jsonl", "--to", "s3://lake/ft")
    rated_turn(bo, question="second")
    export("--format", "jsonl", "--to", "s3://lake/ft")
    files = sorted(i.path for i in s3.get_file_info(fs.FileSelector("lake/ft")))
    questions = [_questions(s3, path) for path in files]
    assert questions == [["first"], ["second"]]


def _questions(store: fs.S3FileSystem, path: str) -> list[str]:
    with store.open_input_stream(path) as stream:
        lines = stream.read().decode().splitlines()
    return [json.loads(line)["messages"][1]["content"] for line in lines]
