from __future__ import annotations

from celery import shared_task

from exports.services import export_run


@shared_task(name="exports.tasks.export_run", ignore_result=True)
def export_run_task(run_id: str) -> None:
    export_run(run_id=run_id)
