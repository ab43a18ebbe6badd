"""Feedback analytics: ingestion with KPI windows maintained, and the KPI query.

1. Ingestion, one worker: a mix of chat.turns and feedback.events (conversations of 1-4
   turns, about 45% of turns rated, 10% of ratings replaced later, 1% of records delivered
   twice, 1% of events stamped 1-40 hours earlier, inside the allowed lateness) is produced to
   fresh topics. Then both streams' runners run in threads of this one process (one runner
   per topic, as a Celery worker runs them), each batch storing its events and updating the
   minute, hour and day windows. events/s = records / (last commit - first records fetched).
   The windows are checked afterwards: every turn and every current rating counted once.
2. The KPI query: --load events (default 1,000,000) spread over 31 days are loaded through
   the same handlers in batches of --load-batch, then --queries selector calls for 30 days at
   hour granularity (720 rows), each ending at a random hour of the last day, are timed,
   and the same through GET /api/feedback/kpis as staff. For the record, the alternative of
   keeping minute windows only and rolling them up on read is timed too (a few runs).

    python benchmarks/feedback.py [--events 100000] [--load 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

TARGET_EPS = 10_000
TARGET_QUERY_P95_MS = 50.0
QUESTION = "Can I still get to New York on Friday, and what would changing my return cost?"
ANSWER = (
    "Yes: BA117 leaves London Heathrow at 08:25 on Friday and lands at JFK at 11:40 local "
    "time; economy seats are still available at GBP 412. Your booking X7K2PQ is on a flexible "
    "fare, so moving the return flight costs the fare difference plus a GBP 75 change fee. "
) * 3
PROVENANCE = {
    "profile_records": [{"source": "crm", "id": "C-1001", "version": 77}],
    "inventory": [{"kind": "fare", "id": "BA117-2026-12-04:economy:Y", "version": 5012331}],
    "documents": [
        {"doc_id": "cancellations", "version": 12, "chunk_ids": ["cancellations#flex-fares"]}
    ],
    "ungrounded_numbers": [],
}
# 2.2 turns (1, 1, 2, 3 or 4), 45% of them rated, 10% of those rated twice.
EVENTS_PER_CONVERSATION = 2.2 * (1 + 0.45 * 1.1)
FEEDBACK_TABLES = (
    "feedback_kpiwindow",
    "feedback_rating",
    "feedback_ratingevent",
    "feedback_turnevent",
    "feedback_conversationstart",
    "feedback_streamwatermark",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="records to ingest")
    parser.add_argument("--load", type=int, default=1_000_000, help="events behind the query")
    parser.add_argument("--load-batch", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rollup-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--output", default="feedback.json")
    return parser.parse_args(argv)


# --- synthetic conversations -----------------------------------------------------------------


@dataclass
class Conversations:
    """Events of both topics as dicts in the contract's shape, in the order they are sent."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    rated: set[tuple[str, str]] = field(default_factory=set)  # (turn, user) with a rating

    @property
    def total(self) -> int:
        return len(self.turns) + len(self.ratings)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def conversation(
    rng: random.Random, begins: datetime, out: Conversations, *, late_share: float = 0.0
) -> None:
    """One conversation of 1-4 turns: some rated, some ratings replaced later."""
    conversation_id, user_id = str(uuid.UUID(int=rng.getrandbits(128))), f"U-{rng.randrange(10**6)}"
    at = begins
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        at += timedelta(seconds=rng.uniform(5, 90))
        turn_id = str(uuid.UUID(int=rng.getrandbits(128)))
        out.turns.append(
            _turn(rng, conversation_id, turn_id, user_id, _maybe_late(rng, at, late_share))
        )
        if rng.random() < 0.45:
            rated_at = at + timedelta(seconds=rng.uniform(2, 60))
            for _ in range(2 if rng.random() < 0.1 else 1):
                out.ratings.append(
                    _rating(
                        rng,
                        conversation_id,
                        turn_id,
                        user_id,
                        _maybe_late(rng, rated_at, late_share),
                    )
                )
                rated_at += timedelta(seconds=rng.uniform(10, 300))
            out.rated.add((turn_id, user_id))


def _maybe_late(rng: random.Random, at: datetime, share: float) -> datetime:
    return at - timedelta(hours=rng.uniform(1, 40)) if rng.random() < share else at


def _turn(
    rng: random.Random, conversation_id: str, turn_id: str, user_id: str, at: datetime
) -> dict[str, Any]:
    first_token = int(rng.lognormvariate(7.2, 0.5))  # about 1.3 s
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "conversation_id": conversation_id,
        "turn_id": turn_id,
        "user_id": user_id,
        "occurred_at": iso(at),
        "status": "answered",
        "question": QUESTION,
        "answer": ANSWER,
        "model": "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "timings_ms": {
            "context": rng.randrange(10, 60),
            "first_token": first_token,
            "total": first_token + int(rng.lognormvariate(8.3, 0.4)),
        },
        "tokens": {"prompt": rng.randrange(300, 1500), "completion": rng.randrange(40, 400)},
        "provenance": PROVENANCE,
    }


def _rating(
    rng: random.Random, conversation_id: str, turn_id: str, user_id: str, at: datetime
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "conversation_id": conversation_id,
        "turn_id": turn_id,
        "user_id": user_id,
        "rating": 1 if rng.random() < 0.8 else -1,
        "comment": "Great, thanks" if rng.random() < 0.2 else None,
        "occurred_at": iso(at),
    }


# --- 1. ingestion through the broker ---------------------------------------------------------


def ingestion(args: argparse.Namespace) -> dict[str, Any]:
    import msgspec

    from benchmarks._runners import BenchRunner, RunnerThreads, isolated, produce, runtime_config
    from feedback.streams import STREAMS

    _truncate_feedback()
    rng = random.Random(args.seed)
    events = Conversations()
    now = datetime.now(UTC)
    while events.total < args.events:
        conversation(rng, now - timedelta(minutes=rng.uniform(10, 70)), events, late_share=0.01)
    records = {
        "chat.turns": _with_repeats(rng, events.turns),
        "feedback.events": _with_repeats(rng, events.ratings),
    }
    specs = {spec.contract_topic: isolated(spec, label="bench.") for spec in STREAMS}
    encoded: dict[str, list[tuple[bytes, bytes | None]]] = {
        specs[topic].topic: [
            (msgspec.json.encode({"conversation_id": e["conversation_id"]}), msgspec.json.encode(e))
            for e in sent
        ]
        for topic, sent in records.items()
    }
    produce_s = produce(encoded, linger_ms=20, compression_type="gzip")
    runners = [BenchRunner(spec, runtime_config()) for spec in specs.values()]
    expected = {r.spec.name: len(records[r.spec.name]) for r in runners}
    cpu_before = _stack.cpu_snapshot()
    threads = RunnerThreads(runners).start()
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and not threads.errors:
            if all(r.records_done >= expected[r.spec.name] for r in runners):
                break
            time.sleep(0.02)
        cpu = _stack.cpu_delta(cpu_before, _stack.cpu_snapshot())
    finally:
        threads.stop()
    if threads.errors or any(r.records_done < expected[r.spec.name] for r in runners):
        raise RuntimeError(f"ingestion did not finish: {threads.errors}")
    first = min(r.first_fetch_at for r in runners if r.first_fetch_at is not None)
    last = max(r.last_commit_at for r in runners if r.last_commit_at is not None)
    counted = _day_totals()
    wanted = {"turns": len(events.turns), "ratings": len(events.rated), "late_dropped": 0}
    if counted != wanted:
        raise RuntimeError(f"windows disagree with the events: {counted} != {wanted}")
    records_sent = sum(expected.values())
    return {
        "records": records_sent,
        "records_per_topic": expected,
        "unique_turns": len(events.turns),
        "rating_events": len(events.ratings),
        "current_ratings": len(events.rated),
        "produce_s": round(produce_s, 3),
        "seconds": round(last - first, 3),
        "events_per_s": round(records_sent / (last - first), 1),
        "per_stream_done_s": {r.spec.name: round(r.last_commit_at - first, 3) for r in runners},  # type: ignore[operator]
        "windows_checked": counted,
        "cpu_s": cpu,
        "runners": {r.spec.name: r.timings.as_dict() for r in runners},
    }


def _with_repeats(rng: random.Random, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1% of records delivered a second time, a little later, as a producer retry does."""
    out = list(sent)
    for _ in range(len(sent) // 100):
        index = rng.randrange(len(out))
        out.insert(min(len(out), index + rng.randrange(1, 500)), out[index])
    return out


def _day_totals() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(turns), 0), coalesce(sum(ratings), 0), "
            "coalesce(sum(late_dropped), 0) FROM feedback_kpiwindow WHERE granularity = 'day'"
        )
        turns, ratings, dropped = cursor.fetchone()
    return {"turns": int(turns), "ratings": int(ratings), "late_dropped": int(dropped)}


# --- 2. the KPI query over a month -----------------------------------------------------------


def load_month(args: argparse.Namespace, *, end: datetime) -> dict[str, Any]:
    """--load events over the 31 days before `end`, through the handlers in big batches."""
    from django.db import connection, transaction

    from feedback.services import ratings_ingest, turns_ingest
    from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent

    _truncate_feedback()
    rng = random.Random(args.seed + 1)
    turns_decoder = msgspec_decoder(ChatTurnEvent)
    ratings_decoder = msgspec_decoder(FeedbackEvent)
    started = time.monotonic()
    loaded = 0
    for chunk in _month_chunks(rng, args, end=end):
        with transaction.atomic():
            turns_ingest(events=turns_decoder(chunk.turns))
            ratings_ingest(events=ratings_decoder(chunk.ratings))
        loaded += chunk.total
    load_s = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feedback_kpiwindow")
    return {
        "events": loaded,
        "load_s": round(load_s, 1),
        "load_events_per_s": round(loaded / load_s),
        "windows": _window_rows(),
        "day_totals": _day_totals(),
    }


def msgspec_decoder(event_type: type) -> Any:
    """Dicts to contract structs, through JSON and validated, as the runtime decodes them."""
    import msgspec

    decoder = msgspec.json.Decoder(list[event_type])  # type: ignore[valid-type]
    return lambda dicts: decoder.decode(msgspec.json.encode(dicts))


def _month_chunks(
    rng: random.Random, args: argparse.Namespace, *, end: datetime
) -> Iterator[Conversations]:
    """Conversations in order of their start, spread evenly over 31 days, in chunks: about
    --load events (a conversation averages 2.2 turns and 1.09 ratings)."""
    span_s = 31 * 86_400 - 3600  # the last conversation ends well before `end`
    conversations = max(1, round(args.load / EVENTS_PER_CONVERSATION))
    starts = sorted(rng.uniform(0, span_s) for _ in range(conversations))
    begin = end - timedelta(days=31)
    chunk = Conversations()
    for offset in starts:
        conversation(rng, begin + timedelta(seconds=offset), chunk)
        if chunk.total >= args.load_batch:
            yield chunk
            chunk = Conversations()
    if chunk.total:
        yield chunk


def _window_rows() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT granularity, count(*) FROM feedback_kpiwindow GROUP BY 1")
        return {granularity: int(n) for granularity, n in cursor.fetchall()}


def query_latency(args: argparse.Namespace, *, end: datetime) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.test import Client

    from feedback.selectors import kpi_windows
    from feedback.windows import Granularity

    rng = random.Random(args.seed + 2)
    ends = [end - timedelta(hours=rng.randrange(0, 24)) for _ in range(args.queries)]
    for moment in ends[:20]:  # warm-up
        kpi_windows(granularity=Granularity.HOUR, start=moment - timedelta(days=30), end=moment)
    selector_ms = []
    for moment in ends:
        started = time.perf_counter()
        rows = kpi_windows(
            granularity=Granularity.HOUR, start=moment - timedelta(days=30), end=moment
        )
        selector_ms.append((time.perf_counter() - started) * 1000)
        assert len(rows) == 720
    staff = User.objects.create_user(f"bench-staff-{uuid.uuid4().hex[:6]}", is_staff=True)
    client = Client()
    client.force_login(staff)
    api_ms = []
    for moment in ends:
        params = {
            "granularity": "hour",
            "from": iso(moment - timedelta(days=30)),
            "to": iso(moment),
        }
        started = time.perf_counter()
        response = client.get("/api/feedback/kpis", params)
        api_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
    staff.delete()
    return {
        "queries": len(ends),
        "rows_per_query": 720,
        "selector": _percentiles(selector_ms),
        "api": _percentiles(api_ms),
    }


ROLLUP_SQL = """
WITH minutes AS (
  SELECT * FROM feedback_kpiwindow
  WHERE granularity = 'minute' AND starts_at >= %(start)s AND starts_at < %(end)s
),
counters AS (
  SELECT date_trunc('hour', starts_at, 'UTC') AS hour, sum(conversations), sum(turns),
    sum(ratings), sum(helpful), sum(comments), sum(tokens_in), sum(tokens_out)
  FROM minutes GROUP BY 1
),
cells AS (
  SELECT date_trunc('hour', m.starts_at, 'UTC') AS hour, u.i, sum(u.f)::integer AS f,
    sum(u.t)::integer AS t
  FROM minutes m,
    unnest(m.first_token_cumulative, m.total_time_cumulative) WITH ORDINALITY AS u(f, t, i)
  GROUP BY 1, 2
),
histograms AS (
  SELECT hour, array_agg(f ORDER BY i) AS f, array_agg(t ORDER BY i) AS t FROM cells GROUP BY 1
)
SELECT c.*, feedback_cumulative_rank(h.f, 0.5), feedback_cumulative_rank(h.f, 0.95),
  feedback_cumulative_rank(h.t, 0.5), feedback_cumulative_rank(h.t, 0.95)
FROM counters c JOIN histograms h USING (hour) ORDER BY hour
"""


def rollup_latency(args: argparse.Namespace, *, end: datetime) -> dict[str, Any]:
    """The road not taken: minute windows only, rolled up to hours when read."""
    from django.db import connection

    timings = []
    for _ in range(args.rollup_runs):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(ROLLUP_SQL, {"start": end - timedelta(days=30), "end": end})
            rows = cursor.fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    return {"runs": len(timings), "rows": len(rows), "median_ms": round(_stack.median(timings), 1)}


def _percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(_stack.quantile(ms, 0.5), 2),
        "p95_ms": round(_stack.quantile(ms, 0.95), 2),
        "p99_ms": round(_stack.quantile(ms, 0.99), 2),
        "max_ms": round(ms[-1], 2),
    }


# --- plumbing --------------------------------------------------------------------------------


def _truncate_feedback() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(FEEDBACK_TABLES)}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    from feedback.windows import RELATIVE_ERROR

    started = time.monotonic()
    ingest = ingestion(args)
    print(
        f"  ingestion: {ingest['events_per_s']:,.0f} events/s "
        f"({ingest['records']:,} records in {ingest['seconds']} s)",
        flush=True,
    )
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    load = load_month(args, end=end)
    print(
        f"  loaded {load['events']:,} events in {load['load_s']} s: {load['windows']}", flush=True
    )
    query = query_latency(args, end=end)
    rollup = rollup_latency(args, end=end)
    print()
    print(_stack.phase_table(ingest["runners"], title="Ingestion, one worker (2 streams)"))
    print(
        f"\ningestion: {ingest['events_per_s']:,.0f} events/s (target >= {TARGET_EPS:,}: "
        f"{'MET' if ingest['events_per_s'] >= TARGET_EPS else 'MISSED'})"
    )
    selector, api = query["selector"], query["api"]
    print(
        f"KPI query, 30 days by hour over {load['events']:,} events: selector p50 "
        f"{selector['p50_ms']} ms, p95 {selector['p95_ms']} ms; API p50 {api['p50_ms']} ms, "
        f"p95 {api['p95_ms']} ms (target p95 < {TARGET_QUERY_P95_MS:.0f} ms: "
        f"{'MET' if api['p95_ms'] < TARGET_QUERY_P95_MS else 'MISSED'})"
    )
    print(
        f"rolling 30 days of minute windows up to hours on read instead: {rollup['median_ms']} ms"
    )
    payload = {
        "benchmark": "feedback",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "histogram_relative_error": round(RELATIVE_ERROR, 4),
        "ingestion": ingest,
        "load": load,
        "query": query,
        "rollup_on_read": rollup,
        "targets": {"events_per_s": TARGET_EPS, "query_p95_ms": TARGET_QUERY_P95_MS},
        "total_runtime_s": round(time.monotonic() - started, 1),
    }
    _stack.write_result(args.output, payload)
    return payload


if __name__ == "__main__":
    main()
