"""The real local model behind chat.llm: `pytest -m local_model` (deselected by default).

Serves LOCAL_MODEL (smollm2-135m, the fastest, unless the environment names another) with
`python -m devstack.localmodel` on a free loopback port and talks to it through the project's
own client. Skipped when xllamacpp or the model's packages are not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.llm import Usage, stream_answer
from devstack.localmodel import local_model_for_name, local_model_missing_requirements
from devstack.servers import stop_process
from harness.stack import free_port

pytestmark = pytest.mark.local_model

NAME = os.environ.get("LOCAL_MODEL", "smollm2-135m")
ALIAS = "travelbot-under-test"
ROOT = Path(__file__).resolve().parents[2]
# The first start assembles the model file (1.1 GB for the default model); later ones reuse it.
READY_TIMEOUT_S = 240.0


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def served(settings: SettingsWrapper, tmp_path: Path) -> Iterator[Served]:
    missing = local_model_missing_requirements(model=local_model_for_name(name=NAME))
    if missing:
        pytest.skip(
            f"LOCAL_MODEL={NAME} needs {' '.join(missing)}: "
            f"LOCAL_MODEL={NAME} python -m devstack.localmodel --install"
        )
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {**os.environ, "LOCAL_MODEL": NAME, "OPENAI_BASE_URL": url, "OPENAI_MODEL": ALIAS}
    log = tmp_path / "model.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.localmodel"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listed(url, process=process, log=log)
        settings.OPENAI_BASE_URL = url
        settings.OPENAI_MODEL = ALIAS
        settings.OPENAI_MAX_TOKENS = 24
        yield Served(url=url, process=process)
    finally:
        stop_process(process, timeout_s=30)


def models_listed(url: str) -> list[str]:
    request = urllib.request.Request(
        f"{url}/models", headers={"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return [model["id"] for model in json.load(response)["data"]]


def wait_until_listed(url: str, *, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the local model exited with {process.returncode}:\n{tail(log)}")
        try:
            models_listed(url)
            return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"{url} did not list its model within {READY_TIMEOUT_S:.0f} s:\n{tail(log)}")


def tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-30:])


async def answer(messages: list[dict[str, str]]) -> tuple[list[str], list[Usage]]:
    usage: list[Usage] = []
    tokens = [token async for token in stream_answer(messages, usage=usage)]
    return tokens, usage


def test_it_streams_an_answer_through_the_chat_client(served: Served) -> None:
    messages = [
        {"role": "system", "content": "You are a concise travel assistant."},
        {"role": "user", "content": "Name one thing to pack for a beach holiday."},
    ]
    tokens, usage = asyncio.run(answer(messages))
    assert len(tokens) > 1 and "".join(tokens).strip()
    assert usage and usage[-1].completion > 0


def test_it_serves_the_model_under_the_configured_name(served: Served) -> None:
    assert models_listed(served.url) == [ALIAS]


def test_it_exits_cleanly_on_sigterm(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
