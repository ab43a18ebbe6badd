from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects, assertTemplateUsed

from accounts.services import user_sign_up


@pytest.fixture
def traveller() -> User:
    return user_sign_up(username="ines", email="ines@example.com", password="a-sturdy-phrase-42")


@pytest.mark.django_db
def test_the_chat_page_sends_visitors_to_log_in(client: Client) -> None:
    response = client.get(reverse("chat"))

    assertRedirects(response, f"{reverse('accounts:login')}?next={reverse('chat')}")


@pytest.mark.django_db
def test_the_chat_page_renders_for_a_logged_in_traveller(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.get(reverse("chat"))

    assertTemplateUsed(response, "chat/chat.html")
    assertContains(response, "ines")


@pytest.mark.django_db
def test_the_chat_page_invites_questions_when_empty(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.get(reverse("chat"))

    assertContains(response, "Ask about flights, hotels, fares or our policies")


@pytest.mark.django_db
def test_the_composer_is_disabled_and_says_why(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.get(reverse("chat"))

    assertContains(response, '<fieldset class="composer__fieldset" disabled>', html=False)
    assertContains(response, "Answers aren’t connected yet")


@pytest.mark.django_db
def test_the_chat_page_refuses_posts(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.post(reverse("chat"), {"message": "hello"})

    assert response.status_code == 405
