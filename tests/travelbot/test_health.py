"""/readyz (what a web process needs) and the service's health (broker, streams and, with
LLM_READINESS_CHECK, the chat model's endpoint) on the status pages."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from harness.pytest_plugin import METRICS_TOKEN
from harness.stack import free_port
from tests.chat.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db
STATUS = "/api/streams/status"


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    return client


@pytest.fixture
def model_checked(settings: SettingsWrapper) -> SettingsWrapper:
    settings.LLM_READINESS_CHECK = True
    return settings


def test_readyz_touches_neither_the_model_nor_the_broker(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    model_checked.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]  # nothing listens
    with FakeLLM(failing=True) as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        started = time.monotonic()
        response = staff_client.get("/readyz")
        assert time.monotonic() - started < 10
        assert fake.listings == 0 and not fake.requests
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "redis"}


def test_readyz_reuses_its_answer_for_a_few_seconds(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.READINESS_CACHE_S = 60
    first = client.get("/readyz").json()["checks"]["database"]
    assert client.get("/readyz").json()["checks"]["database"] == first  # the same timing


def test_the_model_check_passes_when_its_endpoint_answers(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    with FakeLLM() as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        assert staff_client.get(STATUS).json()["health"]["model"]["ok"] is True


def test_the_model_is_asked_at_most_once_per_cache_period(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    model_checked.MODEL_HEALTH_CACHE_S = 60
    with FakeLLM() as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        for _ in range(5):
            staff_client.get(STATUS)
        staff_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert fake.listings == 1


def test_the_model_check_fails_with_the_reason_when_nothing_listens(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    model_checked.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    check = staff_client.get(STATUS).json()["health"]["model"]
    assert check["ok"] is False and "Connection refused" in check["error"]


def test_the_model_check_names_the_status_and_message_of_a_failing_model(
    staff_client: Client, model_checked: SettingsWrapper
) -> None:
    with FakeLLM(failing=True) as fake:
        model_checked.OPENAI_BASE_URL = fake.url
        error = staff_client.get(STATUS).json()["health"]["model"]["error"]
    assert "answered 503" in error and "model overloaded" in error


def test_metrics_say_whether_the_model_is_up(
    client: Client, model_checked: SettingsWrapper
) -> None:
    model_checked.OPENAI_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"
    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert b'travelbot_health_check_ok{check="model"} 0.0' in text.content


def test_the_model_is_left_out_when_the_check_is_off(
    staff_client: Client, settings: SettingsWrapper
) -> None:
    settings.LLM_READINESS_CHECK = False
    assert "model" not in staff_client.get(STATUS).json()["health"]
