"""Every Kafka client of the product is made by one module, with the same connection
security (TLS, SASL) from settings."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from travelbot.streams import kafka

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("travelbot", "accounts", "chat", "profiles", "inventory", "knowledge", "feedback",
           "exports", "simulator", "devstack")  # fmt: skip
CLIENT_CLASSES = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient"}
SECURITY = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_plain_username": "travelbot",
    "sasl_plain_password": "s3cret",
    "ssl_cafile": "/etc/kafka/ca.pem",
    "ssl_certfile": "/etc/kafka/client.pem",
    "ssl_keyfile": "/etc/kafka/client.key",
}
FACTORIES: dict[str, Callable[[list[str]], Any]] = {
    "make_producer": kafka.make_producer,
    "make_raw_producer": kafka.make_raw_producer,
    "make_admin": kafka.make_admin,
    "make_consumer": lambda servers: kafka.make_consumer(servers, group_id="g"),
    "make_offsets_reader": kafka.make_offsets_reader,
}


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The configuration each client class receives, instead of a connection."""
    configs: list[dict[str, Any]] = []
    for name in CLIENT_CLASSES:
        monkeypatch.setattr(kafka, name, lambda **config: configs.append(config))
    return configs


@pytest.mark.parametrize("factory", FACTORIES)
def test_every_client_factory_connects_with_the_configured_tls_and_sasl(
    factory: str, made: list[dict[str, Any]], settings: SettingsWrapper
) -> None:
    settings.KAFKA_SECURITY_PROTOCOL = "SASL_SSL"
    settings.KAFKA_SASL_MECHANISM = "SCRAM-SHA-512"
    settings.KAFKA_SASL_USERNAME, settings.KAFKA_SASL_PASSWORD = "travelbot", "s3cret"
    settings.KAFKA_SSL_CAFILE = "/etc/kafka/ca.pem"
    settings.KAFKA_SSL_CERTFILE = "/etc/kafka/client.pem"
    settings.KAFKA_SSL_KEYFILE = "/etc/kafka/client.key"
    FACTORIES[factory](["b1:9093", "b2:9093"])
    (config,) = made
    assert config["bootstrap_servers"] == ["b1:9093", "b2:9093"]
    assert {key: config.get(key) for key in SECURITY} == SECURITY


def test_plaintext_clients_get_no_tls_or_sasl_options(
    made: list[dict[str, Any]], settings: SettingsWrapper
) -> None:
    settings.KAFKA_SECURITY_PROTOCOL = "PLAINTEXT"
    settings.KAFKA_SASL_MECHANISM = ""
    for factory in FACTORIES.values():
        factory(["b1:9092"])
    assert all(config["security_protocol"] == "PLAINTEXT" for config in made)
    assert not any(key.startswith(("sasl_", "ssl_")) for config in made for key in config)


def test_no_product_code_makes_a_kafka_client_but_the_factories() -> None:
    """A client made elsewhere would connect without the configured TLS and SASL."""
    factories = ROOT / "travelbot" / "streams" / "kafka.py"
    elsewhere = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != factories
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and _called_name(node.func) in CLIENT_CLASSES
    ]
    assert not elsewhere, elsewhere


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""
