from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from accounts.services import DEMO_ACCOUNTS, demo_users_ensure, user_sign_up
from travelbot.roles import Role, user_roles

PASSWORD = "a-sturdy-passphrase-42"


@pytest.mark.django_db
def test_sign_up_creates_a_traveller() -> None:
    user = user_sign_up(username="ines", email="ines@example.com", password=PASSWORD)

    assert user_roles(user) == {Role.TRAVELLER}


@pytest.mark.django_db
def test_sign_up_stores_the_password_hashed() -> None:
    user = user_sign_up(username="ines", email="ines@example.com", password=PASSWORD)

    user.refresh_from_db()
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_sign_up_normalizes_the_email_domain() -> None:
    user = user_sign_up(username="ines", email="ines@EXAMPLE.com", password=PASSWORD)

    assert user.email == "ines@example.com"


@pytest.mark.django_db
def test_sign_up_rejects_a_weak_password() -> None:
    with pytest.raises(ValidationError):
        user_sign_up(username="ines", email="ines@example.com", password="password")

    assert not User.objects.filter(username="ines").exists()


@pytest.mark.django_db
def test_sign_up_rejects_a_taken_username() -> None:
    user_sign_up(username="ines", email="ines@example.com", password=PASSWORD)

    with pytest.raises(ValidationError):
        user_sign_up(username="ines", email="other@example.com", password=PASSWORD)


@pytest.mark.django_db
def test_demo_users_ensure_creates_the_three_documented_accounts() -> None:
    accounts = demo_users_ensure()

    assert [(a.username, a.password) for a in accounts] == [
        ("demo", "demo-travel-2026"),
        ("staff", "staff-travel-2026"),
        ("admin", "admin-travel-2026"),
    ]
    for account in accounts:
        assert User.objects.get(username=account.username).check_password(account.password)


@pytest.mark.django_db
def test_demo_users_ensure_is_idempotent() -> None:
    demo_users_ensure()
    demo_users_ensure()

    assert User.objects.count() == len(DEMO_ACCOUNTS)
    assert [user_roles(u) for u in User.objects.order_by("pk")] == [
        {Role.TRAVELLER},
        {Role.STAFF},
        {Role.STAFF, Role.ADMIN},
    ]


@pytest.mark.django_db
def test_demo_traveller_is_a_plain_traveller() -> None:
    demo_users_ensure()

    demo = User.objects.get(username="demo")
    assert user_roles(demo) == {Role.TRAVELLER}
    assert not demo.is_staff and not demo.is_superuser


@pytest.mark.django_db
def test_demo_staff_is_staff_but_not_a_superuser() -> None:
    demo_users_ensure()

    staff = User.objects.get(username="staff")
    assert staff.is_staff and not staff.is_superuser
    assert user_roles(staff) == {Role.STAFF}


@pytest.mark.django_db
def test_demo_admin_is_a_superuser_in_knowledge_admins() -> None:
    demo_users_ensure()

    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.groups.filter(name="knowledge-admins").exists()


@pytest.mark.django_db
def test_demo_users_ensure_restores_a_changed_password_and_flags() -> None:
    demo_users_ensure()
    User.objects.filter(username="staff").update(is_staff=False, password="!")

    demo_users_ensure()

    staff = User.objects.get(username="staff")
    assert staff.is_staff
    assert staff.check_password("staff-travel-2026")


@pytest.mark.django_db
def test_seed_demo_users_command_prints_every_login(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    settings.DEBUG = True  # development, as `make run` sets it
    call_command("seed_demo_users")

    out = capsys.readouterr().out
    for account in DEMO_ACCOUNTS:
        assert account.username in out
        assert account.password in out


@pytest.mark.django_db
def test_seed_demo_users_refuses_to_run_without_debug(settings: Settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match=r"only in development \(DEBUG=1\)"):
        call_command("seed_demo_users")
    assert not User.objects.exists()
