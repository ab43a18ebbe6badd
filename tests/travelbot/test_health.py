"""/readyz and the chat model's endpoint (LLM_READINESS_CHECK)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from harness.stack import free_port
from tests.chat.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    return client


@pytest.fixture
def model_checked(settings: SettingsWrapper) -> SettingsWrapper:
    settings.LLM_READINESS_CHECK = True
    return settings


def test_readyz_passes_the_model_check_when_its_endpoint_answers(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    with FakeLLM() as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        assert staff_client.get("/readyz").json()["checks"]["model"]["ok"] is True


def test_readyz_fails_the_model_check_with_the_reason_when_nothing_listens(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    model_checked.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    response = staff_client.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["model"]
    assert check["ok"] is False and "Connection refused" in check["error"]


def test_readyz_names_the_status_and_message_of_a_failing_model(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    with FakeLLM(failing=True) as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        error = staff_client.get("/readyz").json()["checks"]["model"]["error"]
    assert "answered 503" in error and "model overloaded" in error


def test_readyz_leaves_the_model_out_when_the_check_is_off(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.LLM_READINESS_CHECK = False
    assert "model" not in client.get("/readyz").json()["checks"]
