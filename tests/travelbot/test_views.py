"""Health probes, stream status for staff, Prometheus metrics and dead-letter replay."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper

from harness.pytest_plugin import METRICS_TOKEN
from travelbot.models import STREAM_LATENCY, DeadLetter, StreamState
from travelbot.services import stream_batch_record, stream_halt_record
from travelbot.streams.kafka import create_topics

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    return client


def test_healthz_answers_without_dependencies(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_what_a_web_process_needs(client: Client) -> None:
    body = client.get("/readyz").json()
    assert set(body["checks"]) == {"database", "redis"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_passes_while_a_stream_has_no_live_runner(client: Client) -> None:
    assert client.get("/readyz").status_code == 200  # the suite runs no worker


def test_the_status_api_tells_staff_which_stream_is_down(staff_client: Client) -> None:
    health = staff_client.get("/api/streams/status").json()["health"]
    assert health["streams"]["ok"] is False
    assert "inventory.flights down: no worker runs this stream" in health["streams"]["error"]


def test_stream_status_is_for_staff_only(client: Client) -> None:
    assert client.get("/api/streams/status").status_code == 401
    client.force_login(User.objects.create_user("traveller", password="x"))
    assert client.get("/api/streams/status").status_code == 403


def test_stream_status_shows_latency_percentiles_and_dead_letters(staff_client: Client) -> None:
    create_topics(
        bootstrap_servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
        partitions=3,
        replication_factor=1,
        topics=["inventory.fares"],
    )
    now_ms = int(time.time() * 1000)  # the percentiles cover recent batches only
    stream_batch_record(
        stream="inventory.fares",
        records=100,
        applied=90,
        skipped=0,
        dead_lettered=1,
        newest_event_ms=now_ms - 100,
        histogram=[0] * 40 + [100] + [0] * (STREAM_LATENCY.size - 41),
        committed_ms=now_ms,
        duration_ms=3.0,
    )
    DeadLetter.objects.create(
        stream="inventory.fares",
        topic="inventory.fares",
        partition=0,
        offset=7,
        key=b"{}",
        value=b"x",
        reason="value is not UTF-8 JSON",
    )
    streams = {s["stream"]: s for s in staff_client.get("/api/streams/status").json()["streams"]}
    fares = streams["inventory.fares"]
    assert fares["dead_letters"]["pending"] == 1
    assert fares["dead_letters"]["latest"][0]["reason"] == "value is not UTF-8 JSON"
    assert fares["source_to_commit_ms"]["p95"] == STREAM_LATENCY.last_whole_ms(40)
    assert [p["partition"] for p in fares["lag"]["partitions"]] == [0, 1, 2]


def test_metrics_are_in_the_prometheus_format(client: Client) -> None:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert b"travelbot_stream_dead_letters{" in response.content
    assert b'travelbot_stream_up{stream="inventory.flights"} 0.0' in response.content


@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Bearer {METRICS_TOKEN}x", METRICS_TOKEN])
def test_metrics_refuse_a_missing_or_wrong_token(client: Client, sent: str | None) -> None:
    headers = {"Authorization": sent} if sent else {}
    assert client.get("/metrics", headers=headers).status_code == 401


def test_metrics_stay_closed_without_a_token_when_debug_is_off(
    client: Client, settings: SettingsWrapper
) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    assert client.get("/metrics").status_code == 401


def test_a_scrape_costs_a_fixed_handful_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    client.get("/metrics", headers=auth)  # warms the lag figures
    with django_assert_max_num_queries(6):
        assert client.get("/metrics", headers=auth).status_code == 200


def test_the_staff_page_renders_every_stream(staff_client: Client) -> None:
    page = staff_client.get("/staff/streams/").content.decode()
    assert "inventory.hotel_rates" in page and "Stream health" in page


def test_staff_replay_their_dead_letters_from_the_page(staff_client: Client) -> None:
    topic = "inventory.hotels"
    create_topics(
        bootstrap_servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
        partitions=3,
        replication_factor=1,
        topics=[topic],
    )
    DeadLetter.objects.create(
        stream=topic,
        topic=topic,
        partition=0,
        offset=1,
        key=b"{}",
        value=b"x",
        reason="value is not UTF-8 JSON",
    )
    response = staff_client.post(f"/staff/streams/{topic}/replay", follow=True)
    assert "Replayed 1 dead letter(s)" in response.content.decode()
    assert DeadLetter.objects.get().replayed_at is not None


def test_the_staff_page_reads_no_dead_letter_payloads(staff_client: Client) -> None:
    DeadLetter.objects.create(
        stream="inventory.hotels",
        topic="inventory.hotels",
        partition=0,
        offset=1,
        key=b"{}",
        value=b"x" * 1_000_000,
        reason="value over 256 KB",
    )
    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get("/staff/streams/").content.decode()
    assert "value over 256 KB" in page
    letter_queries = [q["sql"] for q in queries if "travelbot_deadletter" in q["sql"]]
    assert letter_queries and not any(
        '"value"' in sql or ".value" in sql or "d.*" in sql or '"key"' in sql
        for sql in letter_queries
    ), letter_queries


def test_a_traveller_cannot_replay_dead_letters(client: Client) -> None:
    client.force_login(User.objects.create_user("traveller", password="x"))
    assert client.post("/staff/streams/inventory.hotels/replay").status_code == 403


def test_a_traveller_gets_403_on_the_staff_page_not_a_redirect_loop(client: Client) -> None:
    client.force_login(User.objects.create_user("traveller", password="x"))
    response = client.get("/staff/streams/")
    assert response.status_code == 403
    assert "This page is not for your role" in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get("/staff/streams/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_resume_a_halted_stream_from_the_page(staff_client: Client) -> None:
    stream_halt_record(stream="inventory.fares", reason="30 of 40 records are poison")
    assert "Resume: retry the batch" in staff_client.get("/staff/streams/").content.decode()
    response = staff_client.post(
        "/staff/streams/inventory.fares/resume", {"mode": "retry"}, follow=True
    )
    assert "inventory.fares resumed" in response.content.decode()
    assert StreamState.objects.get(stream="inventory.fares").halted_at is None


def test_the_staff_page_refreshes_as_an_htmx_partial(staff_client: Client) -> None:
    page = staff_client.get("/staff/streams/", headers={"HX-Request": "true"}).content.decode()
    assert page.lstrip().startswith('<div id="stream-status"') and "<html" not in page
