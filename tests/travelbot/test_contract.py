"""The contract's typed structs: the published JSON Schema is theirs, and the examples in
../shared/contracts/streams.md pass both the schema and the decoders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from travelbot.management.commands.contract_schema import DEFAULT_PATH, schema_text
from travelbot.streams import contract

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "streams.md"
TOPIC_LINE = re.compile(r"^(?:### ([a-z_.]+)|`([a-z_.]+)` key)")


def examples() -> list[tuple[str | None, Any]]:
    """(topic or None for the generic envelope, example) for every JSON block of the contract."""
    found: list[tuple[str | None, Any]] = []
    topic: str | None = None
    lines = iter(CONTRACT.read_text().splitlines())
    for line in lines:
        if line.startswith("#"):
            topic = None
        if match := TOPIC_LINE.match(line):
            topic = match.group(1) or match.group(2)
        if line.strip() == "```json":
            block = []
            for body in lines:
                if body.strip() == "```":
                    break
                block.append(body)
            found.append((topic, json.loads("\n".join(block))))
    return found


def test_the_published_schema_is_generated_from_the_types() -> None:
    assert DEFAULT_PATH.read_text() == schema_text(), "run `manage.py contract_schema`"


def test_every_topic_of_the_contract_has_an_example() -> None:
    assert {topic for topic, _ in examples() if topic} == set(contract.TOPICS)


@pytest.mark.parametrize(
    ("topic", "example"),
    [pair for pair in examples() if pair[0]],
    ids=[topic for topic, _ in examples() if topic],
)
def test_each_example_fits_the_schema_and_decodes(topic: str, example: Any) -> None:
    schema = json.loads(DEFAULT_PATH.read_text())
    spec = contract.TOPICS[topic]
    kind = "row" if isinstance(spec, contract.CdcTopic) else "value"
    validator = Draft202012Validator({**schema["topics"][topic][kind], "$defs": schema["$defs"]})
    assert list(validator.iter_errors(example)) == []
    row_type = spec.row if isinstance(spec, contract.CdcTopic) else spec.event
    msgspec.json.decode(json.dumps(example).encode(), type=row_type)


def test_the_envelope_example_decodes() -> None:
    [envelope] = [example for topic, example in examples() if topic is None]
    change = msgspec.json.decode(json.dumps(envelope).encode(), type=contract.Change[dict])
    assert (change.op, change.source.system, change.source.lsn) == ("u", "gds", 5012331)
