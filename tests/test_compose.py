"""docker-compose.yml: valid for both validators, and consistent with the code it runs."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
COMPOSE_FILE = REPO / "docker-compose.yml"
SETTINGS_FILE = REPO / "travelbot" / "settings.py"

ESSENTIAL_VARIABLES = {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY"}
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` ...: compose interpolation.
INTERPOLATION = re.compile(r"\$\{(\w+)[^}]*\}")
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):?\?")
MANAGE_PY_COMMAND = re.compile(r"manage\.py\s+([\w-]+)")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def app_services() -> dict[str, dict[str, Any]]:
    """The services that run the travelbot image (the ones built from this repository)."""
    return {name: service for name, service in services().items() if "build" in service}


def command_line(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    # Stand-ins for interpolated variables, as if each one were set to a URL-safe value.
    return {name: INTERPOLATION.sub("stand-in", str(value)) for name, value in env.items()}


def settings_variables() -> set[str]:
    """Names settings.py reads through its env_str/env_int/env_bool/env_list helpers."""
    tree = ast.parse(SETTINGS_FILE.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def published_ports(service: dict[str, Any]) -> set[tuple[str, str]]:
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((str(port.get("published")), str(port["target"])))
        else:
            published, _, target = str(port).rpartition(":")
            pairs.add((published.rpartition(":")[2], target))
    return pairs


def test_it_validates_against_the_compose_specification_schema() -> None:
    schema = json.loads((SHARED / "schemas" / "compose-spec.json").read_text())
    # The schema declares draft-07 under a $schema URI jsonschema does not recognise.
    jsonschema.Draft7Validator(schema).validate(compose())


def test_docker_compose_1_29_accepts_it() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed; `make test` installs it (as root)")
    required = set(REQUIRED_VARIABLE.findall(COMPOSE_FILE.read_text()))
    env = {**os.environ, **dict.fromkeys(required, "set-by-the-test")}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_app_services_set_only_variables_that_settings_reads() -> None:
    known = settings_variables()
    for name, service in app_services().items():
        unknown = set(environment(service)) - known
        assert not unknown, f"{name} sets variables settings.py never reads: {sorted(unknown)}"


def test_every_app_service_sets_the_essential_variables() -> None:
    assert app_services()
    for name, service in app_services().items():
        missing = ESSENTIAL_VARIABLES - set(environment(service))
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_every_manage_py_command_it_runs_exists() -> None:
    used = {
        command
        for service in services().values()
        for command in MANAGE_PY_COMMAND.findall(command_line(service))
    }
    assert used
    assert used <= set(get_commands()), f"unknown: {sorted(used - set(get_commands()))}"


def test_migrate_prepares_the_database_and_topics_before_the_app_starts() -> None:
    steps = MANAGE_PY_COMMAND.findall(command_line(services()["migrate"]))
    assert steps == ["migrate", "create_topics"]
    for name in ("web", "worker", "beat"):
        condition = services()[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_celery_services_load_the_travelbot_app() -> None:
    celery_commands = [
        command_line(service).split()
        for service in services().values()
        if command_line(service).startswith("celery ")
    ]
    assert len(celery_commands) >= 2  # worker and beat
    for command in celery_commands:
        assert command[1:3] == ["-A", "travelbot"], command
    assert importlib.util.find_spec("travelbot.celery") is not None


def test_web_serves_the_application_defined_in_travelbot_asgi() -> None:
    assert command_line(services()["web"]).split()[:2] == ["uvicorn", "travelbot.asgi:application"]
    spec = importlib.util.find_spec("travelbot.asgi")
    assert spec is not None and spec.origin is not None
    module = ast.parse(Path(spec.origin).read_text())
    assigned = {
        target.id
        for node in module.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "application" in assigned


def test_web_publishes_port_8000() -> None:
    assert ("8000", "8000") in published_ports(services()["web"])


def test_every_published_port_listens_on_loopback_only() -> None:
    """Only the proxy on the host reaches web: past it, plain HTTP could claim to be HTTPS."""
    published = {
        name: [str(port) for port in service.get("ports", [])]
        for name, service in services().items()
    }
    assert published["web"]
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_web_trusts_the_forwarded_proto_header_its_proxy_sets() -> None:
    env = environment(services()["web"])
    assert env["SECURE_PROXY_SSL_HEADER"] == "HTTP_X_FORWARDED_PROTO"
    assert "X-Forwarded-Proto" in COMPOSE_FILE.read_text()  # the proxy's duty, documented
    header = settings_as_run_by(services()["web"], "s.SECURE_PROXY_SSL_HEADER")
    assert header == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_app_urls_point_at_the_compose_services_on_their_standard_ports() -> None:
    for service in app_services().values():
        env = environment(service)
        database, redis = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"])
        assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert {"postgres", "redis", "kafka"} <= set(services())


def test_kafka_advertises_the_address_the_apps_bootstrap_from() -> None:
    advertised = environment(services()["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in advertised.split(",")


def test_long_running_services_restart_unless_stopped_and_migrate_runs_once() -> None:
    for name, service in services().items():
        expected = "no" if name == "migrate" else "unless-stopped"
        assert service.get("restart", "no") == expected, name


def test_the_stack_creates_no_account_and_no_known_password() -> None:
    text = COMPOSE_FILE.read_text()
    assert "seed_demo_users" not in text and "createsuperuser" in text  # in the instructions


def test_the_worker_is_unhealthy_when_one_of_its_streams_is_down() -> None:
    check = services()["worker"]["healthcheck"]["test"]
    assert "manage.py streams_check --local" in " ".join(check)


DEFAULTED = re.compile(r"\$\{\w+:?-([^}]*)\}")


def resolved_environment(service: dict[str, Any]) -> dict[str, str]:
    """As compose would set it with only the required variables given: defaults apply."""
    env = service.get("environment", {})
    return {
        name: INTERPOLATION.sub("stand-in", DEFAULTED.sub(r"\1", str(value)))
        for name, value in env.items()
    }


def test_the_production_environment_passes_the_deployment_checklist() -> None:
    for name, service in app_services().items():
        env = {
            **{k: v for k, v in os.environ.items() if k not in settings_variables()},
            **resolved_environment(service),
            "SECRET_KEY": secrets.token_urlsafe(50),
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert "WARNING" not in result.stderr + result.stdout, name


def settings_as_run_by(service: dict[str, Any], expression: str) -> str:
    """`expression` over travelbot.settings, imported with the service's environment."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in settings_variables()},
        **resolved_environment(service),
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    result = subprocess.run(
        [sys.executable, "-c", f"from travelbot import settings as s; print({expression})"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_web_under_asgi_keeps_no_persistent_database_connection() -> None:
    """Django's documentation: persistent connections must be off under ASGI."""
    assert command_line(services()["web"]).startswith("uvicorn ")
    conn_max_age = settings_as_run_by(services()["web"], "s.DATABASES['default']['CONN_MAX_AGE']")
    assert conn_max_age == "0"
