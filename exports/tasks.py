from __future__ import annotations

from celery import shared_task

from exports.services import EXPORT_RUN_TASK, export_run


@shared_task(name=EXPORT_RUN_TASK, ignore_result=True)
def export_run_task(run_id: str) -> None:
    export_run(run_id=run_id)
