"""One gate per role, for pages and for JSON APIs alike.

Anonymous visitors are sent to log in (pages) or get 401 (APIs); a signed-in user without
the role gets 403 on both: redirecting them to a log-in page they are already past would
loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse

from travelbot.roles import user_is_knowledge_admin, user_is_staff

View = TypeVar("View", bound=Callable[..., HttpResponse])
RoleCheck = Callable[[Any], bool]


def page_for(role_check: RoleCheck) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not role_check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


def api_for(role_check: RoleCheck) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return JsonResponse({"error": "authentication required"}, status=401)
            if not role_check(request.user):
                return JsonResponse({"error": "not allowed for your role"}, status=403)
            return view(request, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


def signed_in(request: HttpRequest) -> User:
    """The request's user, in a view that already required a signed-in user."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


staff_page = page_for(user_is_staff)
staff_api = api_for(user_is_staff)
knowledge_admin_page = page_for(user_is_knowledge_admin)
knowledge_admin_api = api_for(user_is_knowledge_admin)
