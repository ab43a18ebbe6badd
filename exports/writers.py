"""The two file formats. Both write whole files, named by run, so a rerun never overwrites
what an earlier run delivered."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from chat.prompts import SYSTEM
from exports.destinations import Destination
from exports.selectors import ExportRow

PARQUET_SCHEMA = pa.schema(
    [
        ("turn_id", pa.string()),
        ("conversation_id", pa.string()),
        ("occurred_on", pa.date32()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("rating", pa.int8()),
        ("comment", pa.string()),
        ("model", pa.string()),
        ("document_ids", pa.list_(pa.string())),
    ]
)


def finetune_line(row: ExportRow) -> str:
    """OpenAI chat fine-tuning: the fixed system prompt, the question, the helpful answer."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": row.question},
        {"role": "assistant", "content": row.answer},
    ]
    return json.dumps({"messages": messages}, ensure_ascii=False)


def jsonl_write(rows: Iterable[ExportRow], *, to: Destination, name: str) -> list[str]:
    """One file, or none when nothing changed."""
    remaining = iter(rows)
    first = next(remaining, None)
    if first is None:
        return []
    path = to.path(f"{name}.jsonl")
    with to.filesystem.open_output_stream(path) as out:
        for row in itertools.chain([first], remaining):
            out.write(finetune_line(row).encode() + b"\n")
    return [path]


def parquet_write(rows: Iterable[ExportRow], *, to: Destination, name: str) -> list[str]:
    """One part file per occurred date, under Hive-style `date=YYYY-MM-DD/` directories."""
    by_date: dict[str, list[ExportRow]] = defaultdict(list)
    for row in rows:
        by_date[row.occurred_on.isoformat()].append(row)
    paths = []
    for day, day_rows in sorted(by_date.items()):
        path = to.path(f"date={day}", f"part-{name}.parquet")
        if to.local:
            to.filesystem.create_dir(to.path(f"date={day}"), recursive=True)
        pq.write_table(_table(day_rows), path, filesystem=to.filesystem)
        paths.append(path)
    return paths


def _table(rows: list[ExportRow]) -> pa.Table:
    columns = {name: [getattr(row, name) for row in rows] for name in PARQUET_SCHEMA.names}
    return pa.table(columns, schema=PARQUET_SCHEMA)
