from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from prometheus_client import CONTENT_TYPE_LATEST

from accounts.roles import user_is_staff
from travelbot.health import readiness
from travelbot.metrics import prometheus_text, stream_status_json
from travelbot.selectors import stream_statuses
from travelbot.services import dead_letters_replay
from travelbot.streams.registry import registered_streams


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _staff_only(request: HttpRequest) -> JsonResponse | None:
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    if not user_is_staff(request.user):
        return JsonResponse({"error": "staff only"}, status=403)
    return None


@require_GET
def streams_status_api(request: HttpRequest) -> JsonResponse:
    if (denied := _staff_only(request)) is not None:
        return denied
    return JsonResponse({"streams": [stream_status_json(s) for s in stream_statuses()]})


@login_required
@user_passes_test(user_is_staff, login_url="accounts:login")
@require_GET
def streams_page(request: HttpRequest) -> HttpResponse:
    partial = getattr(request, "htmx", False)  # set by django-htmx's middleware
    template = "travelbot/streams.html#status" if partial else "travelbot/streams.html"
    return render(request, template, {"streams": stream_statuses()})


@login_required
@user_passes_test(user_is_staff, login_url="accounts:login")
@require_POST
def dead_letters_replay_view(request: HttpRequest, stream: str) -> HttpResponse:
    if stream not in registered_streams():
        raise Http404("unknown stream")
    replayed = dead_letters_replay(stream=stream)
    messages.success(
        request, f"Replayed {replayed} dead letter(s) of {stream} to {stream}'s topic."
    )
    return redirect("staff_streams")


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_BEARER_TOKEN
    if token and request.headers.get("Authorization") != f"Bearer {token}":
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    return HttpResponse(prometheus_text(stream_statuses()), content_type=CONTENT_TYPE_LATEST)
