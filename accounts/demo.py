"""The demo accounts of the local stack, as plain data: `make run` prints them before Django
is set up, and `seed_demo_users` creates them."""

from __future__ import annotations

from dataclasses import dataclass

from travelbot.roles import KNOWLEDGE_ADMINS_GROUP, TRAVELLERS_GROUP, Role


@dataclass(frozen=True, kw_only=True)
class DemoAccount:
    role: Role
    username: str
    password: str
    email: str
    is_staff: bool = False
    is_superuser: bool = False
    groups: tuple[str, ...] = ()


DEMO_ACCOUNTS = (
    DemoAccount(
        role=Role.TRAVELLER,
        username="demo",
        password="demo-travel-2026",
        email="demo@example.com",
        groups=(TRAVELLERS_GROUP,),
    ),
    DemoAccount(
        role=Role.STAFF,
        username="staff",
        password="staff-travel-2026",
        email="staff@example.com",
        is_staff=True,
    ),
    # is_staff as well: Django's admin site only lets staff members in.
    DemoAccount(
        role=Role.ADMIN,
        username="admin",
        password="admin-travel-2026",
        email="admin@example.com",
        is_staff=True,
        is_superuser=True,
        groups=(KNOWLEDGE_ADMINS_GROUP,),
    ),
)
