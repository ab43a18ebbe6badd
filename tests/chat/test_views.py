from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import (
    assertContains,
    assertNotContains,
    assertRedirects,
    assertTemplateUsed,
)

from accounts.services import user_sign_up
from chat.models import Conversation, Turn


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
def test_the_page_shows_only_the_travellers_own_conversations(
    client: Client, traveller: User
) -> None:
    other = user_sign_up(username="bo", email="bo@example.com", password="a-sturdy-phrase-42")
    mine = Conversation.objects.create(user=traveller, title="Lisbon in May")
    theirs = Conversation.objects.create(user=other, title="Secret trip")
    Turn.objects.create(conversation=mine, question="Any flights?", answer="Yes", status="answered")
    client.force_login(traveller)

    page = client.get(f"{reverse('chat')}?c={mine.pk}")

    assertContains(page, "Lisbon in May")
    assertContains(page, "Any flights?")
    assert "Secret trip" not in page.content.decode()
    assert client.get(f"{reverse('chat')}?c={theirs.pk}").status_code == 404


@pytest.mark.django_db
def test_staff_see_what_the_model_was_given_and_travellers_get_403(
    client: Client, traveller: User
) -> None:
    conversation = Conversation.objects.create(user=traveller, title="t")
    turn = Turn.objects.create(
        conversation=conversation,
        question="q",
        status="answered",
        prompt=[{"role": "system", "content": "You are Travelbot"}],
    )
    client.force_login(traveller)
    assert client.get(f"/staff/turns/{turn.pk}/").status_code == 403
    client.force_login(User.objects.create_user("ops", is_staff=True))
    assertContains(client.get(f"/staff/turns/{turn.pk}/"), "You are Travelbot")


@pytest.mark.django_db
def test_staff_see_the_models_function_calls(client: Client, traveller: User) -> None:
    conversation = Conversation.objects.create(user=traveller, title="t")
    call = {"id": "c1", "type": "function", "function": {"name": "my_bookings", "arguments": "{}"}}
    turn = Turn.objects.create(
        conversation=conversation,
        question="q",
        status="answered",
        prompt=[{"role": "assistant", "content": None, "tool_calls": [call]}],
    )
    client.force_login(User.objects.create_user("ops", is_staff=True))
    page = client.get(f"/staff/turns/{turn.pk}/")
    assertContains(page, "called my_bookings({})")
    assertNotContains(page, "None")


@pytest.mark.django_db
def test_the_chat_page_refuses_posts(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.post(reverse("chat"), {"message": "hello"})

    assert response.status_code == 405
