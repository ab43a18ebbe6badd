"""The staff exports pages and the traveller's consent toggle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from exports.models import ExportConsent, ExportRun
from exports.services import export_create, export_run
from tests.exports.conftest import rated_turn, traveller
from travelbot.celery import app as celery_app

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff() -> Client:
    return client_for(User.objects.create_user("sam", is_staff=True))


@pytest.fixture(autouse=True)
def exports_dir(tmp_path: Path, settings: Settings) -> Path:
    settings.EXPORTS_DIR = tmp_path
    return tmp_path


@pytest.fixture
def done(tmp_path: Path) -> ExportRun:
    rated_turn(traveller("bo"), question="Bag fees?")
    return export_run(run_id=export_create(format="jsonl", to=str(tmp_path)).id)


def urls(run: ExportRun) -> list[str]:
    return [
        "/staff/exports/",
        f"/staff/exports/{run.id}/",
        f"/staff/exports/{run.id}/download",
    ]


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(done: ExportRun) -> None:
    for url in [*urls(done), "/staff/exports/start"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login")


def test_travellers_are_refused_every_page_and_the_download(done: ExportRun) -> None:
    client = client_for(traveller("cy"))
    assert [client.get(url).status_code for url in urls(done)] == [403, 403, 403]
    assert client.post("/staff/exports/start", {"format": "jsonl", "to": "/tmp"}).status_code == 403
    assert ExportRun.objects.count() == 1


def test_staff_see_the_form_and_recent_runs(staff: Client, done: ExportRun) -> None:
    page = staff.get("/staff/exports/").content.decode()
    assert 'action="/staff/exports/start"' in page and f"/staff/exports/{done.id}/" in page


def test_staff_download_a_finished_jsonl(staff: Client, done: ExportRun) -> None:
    response = staff.get(f"/staff/exports/{done.id}/download")
    lines = b"".join(response.streaming_content).decode().splitlines()  # type: ignore[attr-defined]
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert json.loads(lines[0])["messages"][1]["content"] == "Bag fees?"


def test_staff_start_an_export_that_a_worker_runs_and_see_it_done(
    staff: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    rated_turn(traveller("bo"))
    queued: list[str] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args, kwargs: queued.extend(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/staff/exports/start", {"format": "jsonl", "to": str(tmp_path)})
    run = ExportRun.objects.get()
    assert response["Location"] == f"/staff/exports/{run.id}/" and queued == [str(run.id)]
    export_run(run_id=queued[0])
    page = staff.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert "1 / 1" in page and f"/staff/exports/{run.id}/download" in page


def test_staff_cannot_export_to_a_local_directory_outside_the_exports_directory(
    staff: Client, tmp_path: Path
) -> None:
    outside = tmp_path.parent / "elsewhere"
    response = staff.post("/staff/exports/start", {"format": "jsonl", "to": str(outside)})
    assert response.status_code == 400 and not ExportRun.objects.exists()


def test_the_download_serves_nothing_outside_the_exports_directory(
    staff: Client, done: ExportRun, settings: Settings, tmp_path: Path
) -> None:
    settings.EXPORTS_DIR = tmp_path / "elsewhere"
    assert staff.get(f"/staff/exports/{done.id}/download").status_code == 404


def test_a_running_export_polls_for_its_progress(staff: Client, tmp_path: Path) -> None:
    run = export_create(format="parquet", to=str(tmp_path))
    page = staff.get(f"/staff/exports/{run.id}/").content.decode()
    assert f'hx-get="/staff/exports/{run.id}/"' in page and "every 1s" in page


def test_staff_cannot_export_to_s3_outside_the_allowed_prefixes(
    staff: Client, settings: Settings
) -> None:
    settings.EXPORTS_S3_PREFIXES = ["s3://lake/feedback"]
    for to in ("s3://lake/feedback-copy", "s3://other/feedback", "s3://lake"):
        response = staff.post("/staff/exports/start", {"format": "jsonl", "to": to})
        assert response.status_code == 400, to
        assert "is not under an S3 prefix allowed for exports" in response.content.decode()
    assert not ExportRun.objects.exists()


def test_an_s3_export_offers_no_download(staff: Client, settings: Settings) -> None:
    settings.EXPORTS_S3_PREFIXES = ["s3://lake"]
    run = export_create(format="jsonl", to="s3://lake/feedback")
    ExportRun.objects.filter(pk=run.pk).update(status="done", files=["lake/feedback/x.jsonl"])
    assert staff.get(f"/staff/exports/{run.id}/download").status_code == 404


def test_consent_is_off_until_the_traveller_turns_it_on() -> None:
    cy = traveller("cy", consent=False)
    page = client_for(cy).get("/profile/").content.decode()
    assert 'name="granted">' in page and "improve the assistant" in page


def test_the_toggle_changes_only_the_signed_in_travellers_consent() -> None:
    cy, bo = traveller("cy", consent=False), traveller("bo", consent=False)
    client_for(cy).post("/profile/export-consent", {"granted": "on", "user": bo.pk})
    assert list(ExportConsent.objects.filter(granted=True).values_list("user", flat=True)) == [
        cy.pk
    ]


def test_turning_the_toggle_off_withdraws_consent() -> None:
    bo = traveller("bo")
    client_for(bo).post("/profile/export-consent", {})
    assert not ExportConsent.objects.get(user=bo).granted


def test_the_toggle_needs_a_csrf_token() -> None:
    cy = traveller("cy", consent=False)
    client = Client(enforce_csrf_checks=True)
    client.force_login(cy)
    assert client.post("/profile/export-consent", {"granted": "on"}).status_code == 403
    assert not ExportConsent.objects.filter(user=cy).exists()
