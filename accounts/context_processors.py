from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from travelbot.roles import Role, user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    """`roles.traveller`, `roles.staff`, `roles.admin` as booleans for templates.

    Lazy, so that renders which never look at roles (htmx partials) cost no query.
    """
    user = getattr(request, "user", None) or AnonymousUser()

    def flags() -> dict[str, bool]:
        held = user_roles(user)
        return {role.value: role in held for role in Role}

    return {"roles": SimpleLazyObject(flags)}
