"""Consent, export runs and erasure of what the chat keeps about a traveller."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from exports.destinations import destination_normalise, destination_open
from exports.models import ExportConsent, ExportFormat, ExportRun, ExportWatermark
from exports.scrub import Known, text_scrub
from exports.selectors import (
    ExportRow,
    export_rows,
    known_for_user,
    ratings_to_export,
    watermark_get,
)
from exports.writers import jsonl_write, parquet_write
from travelbot.enqueue import task_send_on_commit

logger = logging.getLogger(__name__)

WRITERS: dict[str, Callable[..., list[str]]] = {
    ExportFormat.JSONL: jsonl_write,
    ExportFormat.PARQUET: parquet_write,
}
PROGRESS_EVERY = 200
EXPORT_RUN_TASK = "exports.tasks.export_run"


def consent_set(*, user: User, granted: bool) -> ExportConsent:
    consent, _ = ExportConsent.objects.update_or_create(
        user=user, defaults={"granted": granted, "changed_at": timezone.now()}
    )
    return consent


def export_create(*, format: str, to: str, by: User | None = None) -> ExportRun:
    """A queued run; the destination is checked and normalised here, before any work."""
    return ExportRun.objects.create(
        format=ExportFormat(format), destination=destination_normalise(to), requested_by=by
    )


def export_start(*, format: str, to: str, by: User | None = None) -> ExportRun:
    """Queue a run for a worker, once the run's row is committed."""
    run = export_create(format=format, to=to, by=by)
    task_send_on_commit(EXPORT_RUN_TASK, args=[str(run.id)])
    return run


def export_run(*, run_id: uuid.UUID | str) -> ExportRun:
    """Write everything changed since the destination's watermark, then move the watermark.
    A failed run leaves the watermark alone, so the next run covers its window again."""
    run = ExportRun.objects.get(pk=run_id)
    with destination_lock(format=run.format, destination=run.destination) as locked:
        if not locked:
            error = "another export of this format to this destination is running"
            return _finish(run, status=ExportRun.Status.FAILED, error=error)
        return _export(run)


@contextmanager
def destination_lock(*, format: str, destination: str) -> Iterator[bool]:
    """One run per format and destination at a time: two would read the same watermark and
    write the same rows twice. A session lock, not a transaction: progress must be visible
    while the run works."""
    key = f"exports:{format}:{destination}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def _export(run: ExportRun) -> ExportRun:
    run.since = watermark_get(format=run.format, destination=run.destination)
    # Ratings still committing with an earlier time would fall behind the watermark; the
    # margin lets them land first.
    run.until = timezone.now() - settings.EXPORTS_SETTLE
    ratings = ratings_to_export(format=run.format, since=run.since, until=run.until)
    run.rows_total = ratings.count()
    run.status = ExportRun.Status.RUNNING
    run.save(update_fields=["since", "until", "rows_total", "status"])
    try:
        run.files = WRITERS[run.format](
            _progress(run, _scrubbed(export_rows(ratings))),
            to=destination_open(run.destination),
            # Sortable by time, and unique per run.
            name=f"{run.until:%Y%m%dT%H%M%S%fZ}-{run.id.hex[:8]}",
        )
    except Exception as exc:
        logger.exception("export %s failed", run.id)
        return _finish(run, status=ExportRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    return _finish(run, status=ExportRun.Status.DONE)


def _scrubbed(rows: Iterable[ExportRow]) -> Iterator[ExportRow]:
    known: dict[int, Known] = {}
    for row in rows:
        for user_id in row.user_ids:
            if user_id not in known:
                known[user_id] = known_for_user(user_id=user_id)
        values = Known()
        for user_id in set(row.user_ids):
            values = values | known[user_id]
        yield replace(
            row,
            question=text_scrub(row.question, known=values),
            answer=text_scrub(row.answer, known=values),
            comment=text_scrub(row.comment, known=values),
        )


def _progress(run: ExportRun, rows: Iterable[ExportRow]) -> Iterator[ExportRow]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY == 0:
            ExportRun.objects.filter(pk=run.pk).update(rows_done=done)
    run.rows_done = done


@transaction.atomic
def _finish(run: ExportRun, *, status: str, error: str = "") -> ExportRun:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "files", "rows_done"])
    if status == ExportRun.Status.DONE and run.until is not None:
        ExportWatermark.objects.update_or_create(
            format=run.format,
            destination=run.destination,
            defaults={"exported_through": run.until, "run": run},
        )
    return run
