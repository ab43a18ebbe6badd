from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from feedback.labels import (
    CLASSIFY_COMMENT_TASK,
    MAX_RETRIES,
    LabelError,
    comment_label_classify,
    comment_labels_stale,
)
from travelbot.enqueue import task_send_on_commit


# Retried with backoff (2, 4, 8 s) while the model is unreachable or answers nonsense; the
# last try records the label as failed with the reason, where staff see it.
@shared_task(
    bind=True,
    name=CLASSIFY_COMMENT_TASK,
    autoretry_for=(LabelError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
def classify_comment(self: Task[Any, Any], rating_id: int) -> str | None:
    last_attempt = self.request.retries >= MAX_RETRIES
    label = comment_label_classify(rating_id=rating_id, last_attempt=last_attempt)
    return None if label is None else label.status


@shared_task(name="feedback.tasks.classify_stale", ignore_result=True)
def classify_stale() -> int:
    """Periodic: queue again the labels whose task was never queued or was lost."""
    stale = comment_labels_stale()
    for rating_id in stale:
        task_send_on_commit(CLASSIFY_COMMENT_TASK, args=[rating_id])
    return len(stale)
