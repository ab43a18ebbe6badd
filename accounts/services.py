from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.demo import DEMO_ACCOUNTS, DemoAccount
from travelbot.roles import TRAVELLERS_GROUP


def _group(*, name: str) -> Group:
    # The 0001 migration creates the role groups; get_or_create keeps a flushed DB working.
    group, _ = Group.objects.get_or_create(name=name)
    return group


@transaction.atomic
def user_sign_up(*, username: str, email: str, password: str) -> User:
    """Create a traveller account.

    Raises ValidationError for an invalid or taken username, a bad email or a weak
    password; forms validate first so users see friendly messages.
    """
    user = User(username=username, email=User.objects.normalize_email(email))
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.add(_group(name=TRAVELLERS_GROUP))
    return user


def _demo_user_ensure(*, account: DemoAccount) -> User:
    user, _ = User.objects.get_or_create(username=account.username)
    user.email = account.email
    user.is_active = True
    user.is_staff = account.is_staff
    user.is_superuser = account.is_superuser
    user.set_password(account.password)
    user.save()
    user.groups.set([_group(name=name) for name in account.groups])
    return user


@transaction.atomic
def demo_users_ensure() -> list[DemoAccount]:
    """Create the demo accounts, or reset them to their documented password and roles.

    Idempotent: running it twice leaves exactly the same three accounts.
    """
    for account in DEMO_ACCOUNTS:
        _demo_user_ensure(account=account)
    return list(DEMO_ACCOUNTS)
