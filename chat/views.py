from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@login_required
@require_safe
def chat_page(request: HttpRequest) -> HttpResponse:
    # No conversations yet: the composer renders disabled until answers are connected.
    return render(request, "chat/chat.html")
