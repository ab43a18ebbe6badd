"""GET /api/feedback/kpis: staff only, one row per window, 400 on parameters it cannot answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from accounts.services import user_sign_up
from feedback.services import turns_ingest
from tests.feedback.events import T0, turn_event

pytestmark = pytest.mark.django_db
URL = "/api/feedback/kpis"
DAY = {"granularity": "hour", "from": "2026-11-02T00:00:00Z", "to": "2026-11-03T00:00:00Z"}


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    return client


def test_staff_get_one_row_per_window_with_the_counts(staff_client: Client) -> None:
    turns_ingest(events=[turn_event("t1", tokens=(812, 143))])
    body = staff_client.get(URL, DAY).json()
    assert len(body["windows"]) == 24
    nine = body["windows"][T0.hour]
    assert nine["start"] == "2026-11-02T09:00:00Z" and nine["end"] == "2026-11-02T10:00:00Z"
    assert (nine["turns"], nine["conversations"], nine["tokens_in"]) == (1, 1, 812)
    assert body["windows"][0]["turns"] == 0
    assert body["streams"]["chat.turns"] == {"watermark": "2026-11-02T09:00:00Z", "late_dropped": 0}


def test_a_traveller_is_refused(client: Client) -> None:
    client.force_login(
        user_sign_up(username="ines", email="i@example.com", password="a-Sturdy-42x")
    )
    assert client.get(URL, DAY).status_code == 403


def test_an_anonymous_caller_must_authenticate(client: Client) -> None:
    assert client.get(URL, DAY).status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({**DAY, "granularity": "week"}, "granularity must be one of minute, hour, day"),
        ({**DAY, "from": "yesterday"}, "from is not an ISO 8601 time"),
        ({**DAY, "to": ""}, "to is required"),
        ({**DAY, "from": DAY["to"]}, "from must be earlier than to"),
        ({**DAY, "granularity": "minute", "to": "2026-11-30T00:00:00Z"}, "at most 10,000"),
    ],
)
def test_parameters_it_cannot_answer_get_400_with_the_reason(
    staff_client: Client, params: dict[str, Any], message: str
) -> None:
    response = staff_client.get(URL, params)
    assert response.status_code == 400
    assert message in response.json()["error"]
