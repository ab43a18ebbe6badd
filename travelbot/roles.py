"""Who may do what, derived from Django's own flags and groups.

- traveller: member of the "travellers" group (everyone who signs up).
- staff: `is_staff`; watches the dashboards (feedback, stream health).
- admin: superuser, or member of the "knowledge-admins" group; edits the knowledge base.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the role names must import without Django set up
    from django.contrib.auth.models import AnonymousUser, User

TRAVELLERS_GROUP = "travellers"
KNOWLEDGE_ADMINS_GROUP = "knowledge-admins"
ROLE_GROUPS = (TRAVELLERS_GROUP, KNOWLEDGE_ADMINS_GROUP)


class Role(StrEnum):
    TRAVELLER = "traveller"
    ADMIN = "admin"
    STAFF = "staff"


def _group_names(user: User | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    return frozenset(user.groups.values_list("name", flat=True))


def user_roles(user: User | AnonymousUser) -> frozenset[Role]:
    """Every role the user holds, in at most one query."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    groups = _group_names(user)
    held = {
        Role.TRAVELLER: TRAVELLERS_GROUP in groups,
        Role.STAFF: user.is_staff,
        Role.ADMIN: user.is_superuser or KNOWLEDGE_ADMINS_GROUP in groups,
    }
    return frozenset(role for role, has_role in held.items() if has_role)


def user_is_staff(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


def user_is_knowledge_admin(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or KNOWLEDGE_ADMINS_GROUP in _group_names(user)
