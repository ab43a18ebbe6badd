from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings as SettingsWrapper

from harness.worlds import DemoWorld, load_demo_world
from profiles.services import DEMO_EMAIL, demo_profile_link
from tests.chat.fake_llm import FakeLLM
from tests.clock import START, Clock

NOW = START


@pytest.fixture
def llm(settings: SettingsWrapper) -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        settings.OPENAI_BASE_URL = fake.url
        settings.OPENAI_MODEL = "fake-model"
        yield fake


@pytest.fixture
def demo_world(db: None, clock: Clock) -> DemoWorld:
    return load_demo_world(clock.start)


@pytest.fixture
def alex(demo_world: DemoWorld) -> User:
    """A traveller linked to the demo profile (Alex Morgan, gold, trips from London)."""
    user = User.objects.create_user("alex", email=DEMO_EMAIL, password="a-sturdy-phrase-42")
    demo_profile_link(user=user)
    return user


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("sam", email="sam@example.com", password="a-sturdy-phrase-42")
