"""Tasks start by name once the caller's transaction commits, and a broker outage does not
fail the commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from travelbot.celery import app as celery_app
from travelbot.enqueue import task_send_on_commit

pytestmark = pytest.mark.django_db


def test_a_task_is_sent_by_name_once_the_transaction_commits(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    sent: list[tuple[str, Any, Any]] = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda name, args, kwargs: sent.append((name, args, kwargs))
    )
    with django_capture_on_commit_callbacks(execute=True):
        task_send_on_commit("travelbot.tasks.relay_outbox", args=[1], kwargs={"why": "test"})
        assert sent == []
    assert sent == [("travelbot.tasks.relay_outbox", (1,), {"why": "test"})]


def test_a_broker_that_refuses_the_task_is_logged_and_the_commit_stands(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(name: str, args: Any, kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        task_send_on_commit("travelbot.tasks.relay_outbox")
    assert "task_send_on_commit('travelbot.tasks.relay_outbox')" in caplog.text
    assert "broker down" in caplog.text


def test_every_scheduled_task_is_a_registered_one() -> None:
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled <= set(celery_app.tasks)
