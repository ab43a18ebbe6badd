from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from pytest_django import DjangoAssertNumQueries

from accounts.services import user_sign_up
from travelbot.roles import Role, user_is_knowledge_admin, user_is_staff, user_roles


@pytest.fixture
def traveller() -> User:
    return user_sign_up(username="ines", email="ines@example.com", password="a-sturdy-phrase-42")


def test_an_anonymous_visitor_has_no_roles() -> None:
    visitor = AnonymousUser()

    assert user_roles(visitor) == frozenset()
    assert not user_is_staff(visitor)
    assert not user_is_knowledge_admin(visitor)


@pytest.mark.django_db
def test_a_traveller_is_neither_staff_nor_a_knowledge_admin(traveller: User) -> None:
    assert not user_is_staff(traveller)
    assert not user_is_knowledge_admin(traveller)


@pytest.mark.django_db
def test_a_user_flagged_is_staff_is_staff(traveller: User) -> None:
    traveller.is_staff = True
    traveller.save()

    assert user_is_staff(traveller)
    assert Role.STAFF in user_roles(traveller)


@pytest.mark.django_db
def test_a_superuser_is_a_knowledge_admin() -> None:
    root = User.objects.create_superuser(username="root", password="x")

    assert user_is_knowledge_admin(root)
    assert Role.ADMIN in user_roles(root)


@pytest.mark.django_db
def test_a_member_of_knowledge_admins_is_a_knowledge_admin(traveller: User) -> None:
    traveller.groups.add(Group.objects.get(name="knowledge-admins"))

    assert user_is_knowledge_admin(traveller)
    assert user_roles(traveller) == {Role.TRAVELLER, Role.ADMIN}


@pytest.mark.django_db
def test_staff_alone_does_not_make_a_knowledge_admin(traveller: User) -> None:
    traveller.is_staff = True
    traveller.save()

    assert not user_is_knowledge_admin(traveller)


@pytest.mark.django_db
def test_an_inactive_user_has_no_roles(traveller: User) -> None:
    traveller.is_active = False
    traveller.is_staff = True
    traveller.save()

    assert user_roles(traveller) == frozenset()
    assert not user_is_staff(traveller)


@pytest.mark.django_db
def test_user_roles_costs_one_query(
    traveller: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(1):
        user_roles(traveller)


@pytest.mark.django_db
def test_the_role_groups_exist_after_migrating() -> None:
    names = set(Group.objects.values_list("name", flat=True))

    assert {"travellers", "knowledge-admins"} <= names
