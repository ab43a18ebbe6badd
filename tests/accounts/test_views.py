from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts.services import demo_users_ensure, user_sign_up
from tests.conftest import LimitsClock

PASSWORD = "a-sturdy-passphrase-42"


def sign_up_data(**overrides: str) -> dict[str, str]:
    return {
        "username": "ines",
        "email": "ines@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


@pytest.fixture
def traveller() -> User:
    return user_sign_up(username="ines", email="ines@example.com", password=PASSWORD)


@pytest.mark.django_db
def test_the_sign_up_page_shows_the_form(client: Client) -> None:
    response = client.get(reverse("accounts:signup"))

    assertContains(response, 'name="password2"')
    assertContains(response, 'name="email"')


@pytest.mark.django_db
def test_signing_up_creates_a_traveller_and_logs_them_in(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(), follow=True)

    assertRedirects(response, reverse("chat"))
    assert response.wsgi_request.user.is_authenticated
    assert User.objects.get(username="ines").groups.filter(name="travellers").exists()


@pytest.mark.django_db
def test_signing_up_welcomes_the_new_traveller(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(), follow=True)

    assertContains(response, "Welcome to travelbot, ines!")


@pytest.mark.django_db
def test_signing_up_with_a_taken_username_explains_why(client: Client, traveller: User) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(email="x@example.com"))

    assertContains(response, "A user with that username already exists.")
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_signing_up_with_a_username_taken_in_other_case_explains_why(
    client: Client, traveller: User
) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(username="INES"))

    assertContains(response, "A user with that username already exists.")


@pytest.mark.django_db
def test_signing_up_with_mismatched_passwords_explains_why(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(password2=PASSWORD + "x"))

    assertContains(response, "The two passwords don’t match.")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_signing_up_with_a_common_password_explains_why(client: Client) -> None:
    response = client.post(
        reverse("accounts:signup"), sign_up_data(password1="password", password2="password")
    )

    assertContains(response, "This password is too common.")


@pytest.mark.django_db
def test_signing_up_without_an_email_explains_why(client: Client) -> None:
    response = client.post(reverse("accounts:signup"), sign_up_data(email=""))

    assertContains(response, "This field is required.")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_logged_in_user_visiting_sign_up_is_sent_to_chat(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.get(reverse("accounts:signup"))

    assertRedirects(response, reverse("chat"))


@pytest.mark.django_db
def test_logging_in_sends_the_traveller_to_chat(client: Client, traveller: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": "ines", "password": PASSWORD})

    assertRedirects(response, reverse("chat"))


@pytest.mark.django_db
def test_logging_in_with_a_bad_password_shows_an_error(client: Client, traveller: User) -> None:
    response = client.post(reverse("accounts:login"), {"username": "ines", "password": "nope"})

    assertContains(response, "Please enter a correct username and password.")
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_logging_in_returns_to_the_requested_page(client: Client, traveller: User) -> None:
    response = client.post(
        f"{reverse('accounts:login')}?next=/somewhere/",
        {"username": "ines", "password": PASSWORD, "next": "/somewhere/"},
    )

    assert response["Location"] == "/somewhere/"


@pytest.mark.django_db
def test_logging_in_ignores_a_next_url_on_another_site(client: Client, traveller: User) -> None:
    response = client.post(
        reverse("accounts:login"),
        {"username": "ines", "password": PASSWORD, "next": "https://evil.example/"},
    )

    assertRedirects(response, reverse("chat"))


@pytest.mark.django_db
def test_logging_out_by_get_is_refused(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.get(reverse("accounts:logout"))

    assert response.status_code == 405
    assert response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_logging_out_by_post_ends_the_session(client: Client, traveller: User) -> None:
    client.force_login(traveller)

    response = client.post(reverse("accounts:logout"), follow=True)

    assertRedirects(response, reverse("accounts:login"))
    assertContains(response, "You have been logged out.")
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_the_header_offers_log_in_and_sign_up_to_visitors(client: Client) -> None:
    response = client.get(reverse("accounts:login"))

    assertContains(response, f'href="{reverse("accounts:signup")}"')
    assertNotContains(response, "Log out")


@pytest.mark.django_db
def test_the_body_sends_the_csrf_token_with_htmx_requests(client: Client) -> None:
    response = client.get(reverse("accounts:login"))

    assertContains(response, 'hx-headers=\'{"X-CSRFToken": "')


@pytest.mark.django_db
def test_the_header_shows_the_django_admin_link_only_to_superusers(client: Client) -> None:
    demo_users_ensure()
    client.force_login(User.objects.get(username="staff"))
    staff_page = client.get(reverse("chat"))
    client.force_login(User.objects.get(username="admin"))
    admin_page = client.get(reverse("chat"))

    assertNotContains(staff_page, 'href="/admin/"')
    assertContains(admin_page, 'href="/admin/"')


@pytest.mark.django_db
def test_templates_see_the_users_roles(client: Client) -> None:
    demo_users_ensure()
    client.force_login(User.objects.get(username="staff"))

    response = client.get(reverse("chat"))

    assert dict(response.context["roles"]) == {"traveller": False, "admin": False, "staff": True}


@pytest.mark.django_db
def test_sign_ups_from_one_address_are_throttled(
    settings: SettingsWrapper, limits_clock: LimitsClock
) -> None:
    settings.SIGNUPS_PER_HOUR_PER_ADDRESS = 2
    for n in range(2):
        data = sign_up_data(username=f"ines{n}", email=f"ines{n}@example.com")
        assert Client().post(reverse("accounts:signup"), data).status_code == 302
    refused = Client().post(reverse("accounts:signup"), sign_up_data(username="ines9"))
    assert refused.status_code == 429 and refused["Retry-After"] == "1800"
    assertContains(refused, "1800 seconds", status_code=429)
    assert not User.objects.filter(username="ines9").exists()
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.post(reverse("accounts:signup"), sign_up_data(username="ines9")).status_code == 302


@pytest.mark.django_db
def test_a_form_with_mistakes_uses_no_sign_up(settings: SettingsWrapper) -> None:
    settings.SIGNUPS_PER_HOUR_PER_ADDRESS = 1
    client = Client()
    assert client.post(reverse("accounts:signup"), sign_up_data(email="")).status_code == 200
    assert client.post(reverse("accounts:signup"), sign_up_data()).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_log_in_attempts_on_one_username_are_throttled(
    traveller: User, settings: SettingsWrapper, limits_clock: LimitsClock, path: str
) -> None:
    settings.LOGINS_PER_MINUTE_PER_USERNAME = 3
    for n in range(3):
        client = Client(REMOTE_ADDR=f"198.51.100.{n}")  # one guess from each of many addresses
        assert client.post(path, {"username": "ines", "password": "nope"}).status_code == 200
    refused = Client().post(path, {"username": "INES", "password": PASSWORD})
    assert refused.status_code == 429 and refused["Retry-After"] == "20"
    limits_clock.advance(20)
    assert Client().post(path, {"username": "ines", "password": PASSWORD}).status_code != 429


@pytest.mark.django_db
def test_log_in_attempts_from_one_address_are_throttled(
    settings: SettingsWrapper, limits_clock: LimitsClock
) -> None:
    settings.LOGINS_PER_MINUTE_PER_ADDRESS = 2
    client = Client()
    for n in range(2):
        assert client.post(reverse("accounts:login"), {"username": f"u{n}"}).status_code == 200
    assert client.post(reverse("accounts:login"), {"username": "u9"}).status_code == 429
    assert client.get(reverse("accounts:login")).status_code == 200  # the page itself is free
