"""Exports: what leaves (consented, scrubbed, changed since the watermark) and what never does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from django.contrib.auth.models import User
from django.db import connection
from pytest_django.fixtures import Settings

from chat.models import Conversation, Rating
from chat.prompts import SYSTEM
from exports.destinations import DestinationError
from exports.models import ExportConsent, ExportRun
from exports.selectors import watermark_get
from exports.services import consent_set, export_create, export_run
from profiles.privacy import profile_erase
from tests.clock import Clock
from tests.exports.conftest import ANSWER, CANARIES, COMMENT, QUESTION, rated_turn, traveller

pytestmark = pytest.mark.django_db


def run(format: str, to: Path) -> ExportRun:
    done = export_run(run_id=export_create(format=format, to=str(to)).id)
    assert done.status == ExportRun.Status.DONE, done.error
    return done


def jsonl_lines(done: ExportRun) -> list[dict]:
    return [json.loads(line) for path in done.files for line in Path(path).read_text().splitlines()]


def parquet_rows(done: ExportRun) -> list[dict]:
    return [row for path in done.files for row in pq.read_table(path).to_pylist()]


def test_jsonl_holds_one_openai_chat_example_per_helpful_turn(tmp_path: Path) -> None:
    rated_turn(traveller("bo"), question="Bag fees?", answer="40.00 GBP.")
    assert jsonl_lines(run("jsonl", tmp_path)) == [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Bag fees?"},
                {"role": "assistant", "content": "40.00 GBP."},
            ]
        }
    ]


def test_jsonl_leaves_out_turns_rated_not_helpful(tmp_path: Path) -> None:
    rated_turn(traveller("bo"), rating=-1)
    assert run("jsonl", tmp_path).files == []


def test_no_canary_reaches_the_jsonl(ana: User, tmp_path: Path) -> None:
    rated_turn(ana, question=QUESTION, answer=ANSWER, comment=COMMENT)
    text = "\n".join(Path(p).read_text() for p in run("jsonl", tmp_path).files)
    assert "[NAME]" in text and "[BOOKING_REF]" in text
    assert [canary for canary in CANARIES if canary.lower() in text.lower()] == []


def test_no_canary_reaches_the_parquet(ana: User, tmp_path: Path) -> None:
    rated_turn(ana, question=QUESTION, answer=ANSWER, comment=COMMENT, rating=-1)
    rows = parquet_rows(run("parquet", tmp_path))
    text = json.dumps(rows, default=str)
    assert len(rows) == 1 and "[LOYALTY_ID]" in rows[0]["comment"]
    assert [canary for canary in CANARIES if canary.lower() in text.lower()] == []


def test_parquet_is_partitioned_by_date_with_the_agreed_columns(
    tmp_path: Path, clock: Clock
) -> None:
    bo = traveller("bo")
    at = clock.now() - timedelta(days=2)  # the morning: the date is the same an instant later
    turn = rated_turn(bo, at=at, comment="fine")
    done = run("parquet", tmp_path)
    day = at.date()
    [path] = [Path(p) for p in done.files]
    assert path.parent == tmp_path / f"date={day}"
    assert path.name.startswith("part-") and path.suffix == ".parquet"
    [row] = parquet_rows(done)
    assert row == {
        "turn_id": str(turn.id),
        "conversation_id": str(turn.conversation_id),
        "occurred_on": day,
        "question": turn.question,
        "answer": turn.answer,
        "rating": 1,
        "comment": "fine",
        "model": "travelbot-local",
        "document_ids": ["baggage-policy"],
    }


def test_a_traveller_who_did_not_consent_is_left_out(tmp_path: Path) -> None:
    rated_turn(traveller("cy", consent=False), question="Cy's question")
    rated_turn(traveller("bo"), question="Bo's question")
    assert [row["question"] for row in parquet_rows(run("parquet", tmp_path))] == ["Bo's question"]


def test_a_withdrawn_consent_leaves_the_traveller_out(tmp_path: Path) -> None:
    bo = traveller("bo")
    rated_turn(bo)
    consent_set(user=bo, granted=False)
    assert run("parquet", tmp_path).files == []


def test_an_erased_traveller_is_left_out_and_their_chat_data_deleted(
    ana: User, tmp_path: Path
) -> None:
    rated_turn(ana, question="Ana's question")
    rated_turn(traveller("bo"), question="Bo's question")
    profile_erase(profile_id="crm:C-1001")
    assert [row["question"] for row in parquet_rows(run("parquet", tmp_path))] == ["Bo's question"]
    assert not Conversation.objects.filter(user=ana).exists()
    assert not Rating.objects.filter(user=ana).exists()
    assert not ExportConsent.objects.filter(user=ana).exists()


def test_a_second_run_writes_only_what_changed_since_the_first(tmp_path: Path) -> None:
    bo = traveller("bo")
    rated_turn(bo, question="first")
    assert len(jsonl_lines(run("jsonl", tmp_path))) == 1
    rated_turn(bo, question="second")
    second = run("jsonl", tmp_path)
    assert [line["messages"][1]["content"] for line in jsonl_lines(second)] == ["second"]
    assert second.rows_total == second.rows_done == 1


def test_a_change_inside_the_settling_margin_waits_for_a_later_run(
    tmp_path: Path, settings: Settings
) -> None:
    settings.EXPORTS_SETTLE = timedelta(minutes=1)
    rated_turn(traveller("bo"))
    assert run("jsonl", tmp_path).rows_total == 0


def test_watermarks_are_kept_per_format_and_destination(tmp_path: Path) -> None:
    rated_turn(traveller("bo"))
    run("jsonl", tmp_path / "a")
    assert len(jsonl_lines(run("jsonl", tmp_path / "b"))) == 1


def test_a_later_consent_brings_earlier_turns_to_the_next_run(tmp_path: Path) -> None:
    cy = traveller("cy", consent=False)
    rated_turn(cy)
    run("jsonl", tmp_path)
    consent_set(user=cy, granted=True)
    assert len(jsonl_lines(run("jsonl", tmp_path))) == 1


def test_a_second_run_to_the_same_destination_waits_its_turn(tmp_path: Path) -> None:
    rated_turn(traveller("bo"))
    queued = export_create(format="jsonl", to=str(tmp_path))
    with other_session() as cursor:
        cursor.execute(
            "SELECT pg_advisory_lock(hashtext(%s))", [f"exports:jsonl:{queued.destination}"]
        )
        refused = export_run(run_id=queued.id)
    assert refused.status == ExportRun.Status.FAILED and "running" in refused.error
    assert watermark_get(format="jsonl", destination=queued.destination) is None


@contextmanager
def other_session() -> Iterator[psycopg.Cursor]:
    """Another database session, as a second worker would have."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as other, other.cursor() as cursor:
        yield cursor


def test_a_failed_run_leaves_no_watermark(tmp_path: Path) -> None:
    rated_turn(traveller("bo"))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    failed = export_run(run_id=export_create(format="jsonl", to=str(blocker)).id)
    assert failed.status == ExportRun.Status.FAILED
    assert watermark_get(format="jsonl", destination=str(blocker)) is None


def test_s3_exports_go_only_under_the_allowed_prefixes(settings: Settings) -> None:
    settings.EXPORTS_S3_PREFIXES = ["s3://lake/feedback/", "s3://archive"]
    for allowed in ("s3://lake/feedback", "s3://lake/feedback/2026/", "s3://archive/x"):
        assert export_create(format="jsonl", to=allowed).destination == allowed.rstrip("/")
    for refused in ("s3://lake", "s3://lake/feedbackx", "s3://lake/other", "s3://evil/feedback"):
        with pytest.raises(DestinationError, match="EXPORTS_S3_PREFIXES"):
            export_create(format="jsonl", to=refused)


def test_no_s3_export_is_allowed_until_a_prefix_is_configured(settings: Settings) -> None:
    settings.EXPORTS_S3_PREFIXES = []
    with pytest.raises(DestinationError, match="none is configured"):
        export_create(format="jsonl", to="s3://lake/feedback")


def test_a_queued_s3_run_fails_if_its_prefix_is_no_longer_allowed(settings: Settings) -> None:
    settings.EXPORTS_S3_PREFIXES = ["s3://lake"]
    run = export_create(format="jsonl", to="s3://lake/feedback")
    settings.EXPORTS_S3_PREFIXES = []
    run = export_run(run_id=run.id)
    assert run.status == ExportRun.Status.FAILED and "EXPORTS_S3_PREFIXES" in run.error
