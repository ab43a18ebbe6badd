from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST

from travelbot.access import staff_api, staff_page
from travelbot.health import readiness, service_health
from travelbot.metrics import prometheus_text, stream_status_json
from travelbot.models import StreamState
from travelbot.roles import user_is_staff
from travelbot.selectors import pipelines_json, pipelines_status, stream_statuses
from travelbot.services import (
    ReplayInProgress,
    dead_letters_replay,
    stream_log_reset_dismiss,
    stream_resume,
)
from travelbot.streams.registry import registered_streams


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when this web process's database and Redis answer (reused for a few seconds).
    The broker, the streams and the model are the service's health, on the status pages.
    Only staff see why a check failed: exception text can name hosts and users."""
    checks = readiness(with_reasons=user_is_staff(request.user))
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


@staff_api
@require_GET
def streams_status_api(request: HttpRequest) -> JsonResponse:
    streams = [stream_status_json(s) for s in stream_statuses()]
    return JsonResponse(
        {
            "health": service_health(with_reasons=True),
            "streams": streams,
            "pipelines": pipelines_json(pipelines_status()),
        }
    )


@staff_page
@require_GET
def streams_page(request: HttpRequest) -> HttpResponse:
    partial = getattr(request, "htmx", False)  # set by django-htmx's middleware
    template = "travelbot/streams.html#status" if partial else "travelbot/streams.html"
    context = {
        "health": service_health(with_reasons=True),
        "streams": stream_statuses(),
        "pipelines": pipelines_status(),
    }
    return render(request, template, context)


def _known_stream(stream: str) -> str:
    if stream not in registered_streams():
        raise Http404("unknown stream")
    return stream


def _letter_ids(request: HttpRequest) -> list[int] | None:
    """The letters ticked on the page; none ticked means every pending one."""
    ticked = [int(value) for value in request.POST.getlist("letter") if value.isdigit()]
    return ticked or None


@staff_page
@require_POST
def dead_letters_replay_view(request: HttpRequest, stream: str) -> HttpResponse:
    _known_stream(stream)
    try:
        replayed = dead_letters_replay(stream=stream, user=request.user, ids=_letter_ids(request))
    except ReplayInProgress:
        messages.warning(request, f"Those dead letters of {stream} are being replayed already.")
    else:
        messages.success(request, f"Replayed {replayed} dead letter(s) of {stream} to its topic.")
    return redirect("staff_streams")


@staff_page
@require_POST
def stream_resume_view(request: HttpRequest, stream: str) -> HttpResponse:
    _known_stream(stream)
    mode = request.POST.get("mode", StreamState.ResumeMode.RETRY)
    if mode not in StreamState.ResumeMode.values:
        messages.error(request, "Choose how to resume the stream.")
    elif stream_resume(stream=stream, user=request.user, mode=mode):
        label = StreamState.ResumeMode(mode).label.lower()
        messages.success(request, f"{stream} resumed ({label}); its runners start again.")
    else:
        messages.info(request, f"{stream} was not halted.")
    return redirect("staff_streams")


@staff_page
@require_POST
def stream_log_reset_dismiss_view(request: HttpRequest, stream: str) -> HttpResponse:
    stream_log_reset_dismiss(stream=_known_stream(stream))
    return redirect("staff_streams")


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus figures. Open in development; outside it, only with METRICS_BEARER_TOKEN."""
    token = settings.METRICS_BEARER_TOKEN
    if token or not settings.DEBUG:
        sent = request.headers.get("Authorization", "")
        if not token or not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(
        prometheus_text(stream_statuses(details=False), service_health(with_reasons=False)),
        content_type=CONTENT_TYPE_LATEST,
    )
