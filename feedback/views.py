"""The feedback KPI API and dashboard for staff: thin views over the selectors."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from feedback import selectors
from feedback.dashboard import dashboard_data, dashboard_query_parse
from feedback.forms import KpiQueryError, kpi_query_parse
from travelbot.access import staff_api, staff_page
from travelbot.timefmt import iso_z


@staff_api
@require_GET
def kpis_api(request: HttpRequest) -> JsonResponse:
    try:
        query = kpi_query_parse(request.GET)
    except KpiQueryError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    rows = selectors.kpi_windows(granularity=query.granularity, start=query.start, end=query.end)
    watermarks = selectors.stream_watermarks()
    return JsonResponse(
        {
            "granularity": query.granularity,
            "from": iso_z(rows[0].starts_at),
            "to": iso_z(query.end),
            "allowed_lateness_s": settings.FEEDBACK_ALLOWED_LATENESS.total_seconds(),
            "streams": {
                stream: {"watermark": iso_z(watermarks.get(stream)), "late_dropped": dropped}
                for stream, dropped in selectors.late_dropped_totals().items()
            },
            "windows": [row.json() for row in rows],
        }
    )


@staff_page
@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The feedback dashboard; htmx polls re-render its live part with the same parameters."""
    now = timezone.now()
    query = dashboard_query_parse(request.GET, now=now)
    live = getattr(request, "htmx", False)  # set by django-htmx's middleware
    template = "feedback/dashboard.html#live" if live else "feedback/dashboard.html"
    return render(request, template, dashboard_data(query=query, now=now))
