"""Staff exports: start one, watch its progress, download a local JSONL file."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from exports.forms import ExportForm
from exports.models import ExportRun
from exports.selectors import export_download_path, export_runs_recent
from exports.services import export_start
from travelbot.access import signed_in, staff_page


@staff_page
@require_safe
def staff_exports(request: HttpRequest) -> HttpResponse:
    return _page(request, form=ExportForm())


def _page(request: HttpRequest, *, form: ExportForm, status: int = 200) -> HttpResponse:
    context = {"form": form, "runs": export_runs_recent()}
    return render(request, "exports/staff_exports.html", context, status=status)


@staff_page
@require_POST
def staff_export_start(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    run = export_start(**form.cleaned_data, by=signed_in(request))
    return redirect("exports:progress", run_id=run.id)


@staff_page
@require_safe
def staff_export_progress(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = get_object_or_404(ExportRun, pk=run_id)
    partial = getattr(request, "htmx", False)  # set by django-htmx's middleware
    template = "exports/run.html#progress" if partial else "exports/run.html"
    downloadable = export_download_path(run=run) is not None
    return render(request, template, {"run": run, "downloadable": downloadable})


@staff_page
@require_safe
def staff_export_download(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    path = export_download_path(run=get_object_or_404(ExportRun, pk=run_id))
    if path is None:
        raise Http404("this export has no local file to download")
    # Streamed, not read into memory: FileResponse closes the file once sent. The role
    # gate's typing only knows HttpResponse.
    file = Path(path).open("rb")  # noqa: SIM115
    response = FileResponse(file, as_attachment=True, filename=Path(path).name)
    return response  # type: ignore[return-value]
