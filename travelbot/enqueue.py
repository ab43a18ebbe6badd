"""The one way product code starts a Celery task: once the caller's transaction commits.

On commit, because the task reads what the transaction wrote (so it gets ids, never
objects). By the task's registered name, so a service need not import the tasks module that
imports it. Robustly: a broker that cannot take the task does not undo a commit that already
happened; Django logs the error and the task's periodic twin (or staff) catches up the work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from travelbot.celery import app as celery_app


def task_send_on_commit(
    name: str, *, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> None:
    """Queue the task registered as `name` after the current transaction commits (at once
    outside a transaction)."""

    def send() -> None:
        celery_app.send_task(name, args=tuple(args), kwargs=dict(kwargs or {}))

    # Django names the callback when it logs a failure: let that name say which task.
    send.__qualname__ = f"task_send_on_commit({name!r})"
    transaction.on_commit(send, robust=True)
