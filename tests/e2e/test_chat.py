"""The traveller chat in real headless Chromium, served by uvicorn (websockets need ASGI):
ask, watch the answer stream with a citation and a live price, stop a second answer half
way, reload and see the history, rate an answer. Screenshots in E2E_SCREENSHOT_DIR."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from django.contrib.auth.models import Group, User
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.models import Rating, Turn
from harness.stack import free_port
from harness.worlds import load_demo_world
from knowledge.pipeline import chunks_embed_pending
from profiles.services import demo_profile_link
from tests.chat.fake_llm import FakeLLM
from tests.chat.test_context import departure_day, publish_document
from tests.clock import Clock
from tests.e2e.test_signup_flow import SCREENSHOTS, _chromium
from travelbot.roles import TRAVELLERS_GROUP

PASSWORD = "a-sturdy-passphrase-42"


@pytest.fixture
def asgi_server() -> Iterator[str]:
    from travelbot.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            application, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    # The server's worker threads keep their database connections: end them, or the test
    # database cannot be dropped.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def answer_with_a_live_fact(messages: list[dict[str, Any]]) -> str:
    """Quotes the first fare of the context, as a good model would."""
    context = messages[-1]["content"]
    fare = next((line for line in context.splitlines() if "[fare " in line), "")
    price = fare.split(": ", 1)[1].split(",")[0] if ": " in fare else "no fare"
    return f"The cheapest fare I see is {price}. Extra bags cost 35 GBP, see Bag fees."


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_traveller_chats_stops_reloads_and_rates(
    asgi_server: str, settings: SettingsWrapper, clock: Clock
) -> None:
    world = load_demo_world(clock.start)
    publish_document("bag-fees", "## Extra bags\nAn extra checked bag costs 35 GBP online.")
    chunks_embed_pending()
    user = User.objects.create_user("alex", password=PASSWORD)
    user.groups.add(Group.objects.get(name=TRAVELLERS_GROUP))
    demo_profile_link(user=user)
    flights = world.world.rows["flights"].values()
    flight = next(row for row in flights if row["departure_at"] > clock.start.isoformat())
    question = (
        f"Flights from {flight['origin']} to {flight['destination']} on "
        f"{departure_day(flight)}, and how much is an extra bag?"
    )
    with FakeLLM(reply=answer_with_a_live_fact, delay_s=0.03) as llm, _chromium() as browser:
        settings.OPENAI_BASE_URL, settings.OPENAI_MODEL = llm.url, "fake-model"
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{asgi_server}/accounts/login/")
        page.get_by_label("Username").fill("alex")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("connected", exact=True).wait_for()

        page.get_by_label("Message").fill(question)
        page.get_by_role("button", name="Send").click()
        first = page.locator(".turn").first
        first.locator(".fact--flight", has_text="economy: ").first.wait_for()  # before any token
        first.locator(".turn__rating:not([hidden])").wait_for(timeout=30_000)
        answer = first.locator(".turn__answer").inner_text()
        assert "The cheapest fare I see is" in answer and "GBP" in answer
        assert first.get_by_role("link", name="Bag Fees: Extra bags").count() == 1
        listed = page.locator(".conversations__list a[aria-current=page]")
        assert listed.inner_text().startswith("Flights from")  # listed without a reload
        page.screenshot(path=SCREENSHOTS / "chat-answer.png", full_page=True)

        llm.reply = " ".join(f"word{n}" for n in range(400))
        page.get_by_label("Message").fill("Tell me everything about my trips")
        page.get_by_role("button", name="Send").click()
        second = page.locator(".turn").nth(1)
        second.locator(".turn__answer").get_by_text("word20", exact=False).wait_for()
        page.get_by_role("button", name="Stop").click()
        second.get_by_text("Stopped.").wait_for()
        page.screenshot(path=SCREENSHOTS / "chat-stopped.png", full_page=True)

        page.reload()
        page.locator(".turn").nth(1).get_by_text("Stopped.").wait_for()
        page.locator(".turn").first.get_by_role("button", name="Helpful", exact=True).click()
        page.get_by_text("Thanks for the feedback.").wait_for()
        page.screenshot(path=SCREENSHOTS / "chat-history.png", full_page=True)
        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=SCREENSHOTS / "chat-history-375.png", full_page=True)
        page.close()
    statuses = list(Turn.objects.order_by("created_at").values_list("status", flat=True))
    assert statuses == ["answered", "stopped"]
    assert Rating.objects.get().rating == 1
