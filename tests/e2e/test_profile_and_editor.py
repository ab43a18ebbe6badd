"""A traveller links and reads their profile, and a knowledge admin writes an article, in a
real browser (skipped without playwright or Chromium; screenshots in E2E_SCREENSHOT_DIR)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import connection

from harness.worlds import load_demo_world
from knowledge.models import Document
from knowledge.pipeline import chunks_embed_pending
from knowledge.streams import documents_apply
from profiles.models import ProfileLink
from simulator.customers import DEMO_MEMBER_ID
from tests.clock import Clock
from tests.e2e.test_signup_flow import SCREENSHOTS, _chromium
from travelbot.models import OutboxMessage
from travelbot.roles import KNOWLEDGE_ADMINS_GROUP, TRAVELLERS_GROUP
from travelbot.streams import contract
from travelbot.streams.envelope import decode_change
from travelbot.streams.kafka import encode_json

if TYPE_CHECKING:
    from playwright.sync_api import Dialog
    from pytest_django.live_server_helper import LiveServer

PASSWORD = "a-sturdy-passphrase-42"


def deliver_outbox() -> None:
    """Apply the editor's outbox event through the documents stream handler and embed it."""
    events = [
        decode_change(encode_json(m.key), encode_json(m.value), topic=contract.DOCUMENTS)
        for m in OutboxMessage.objects.order_by("id")
    ]
    try:
        documents_apply([e for e in events if e is not None])
        chunks_embed_pending()
    finally:
        connection.close()  # this thread's own connection, or the test database stays in use


def sign_in(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_traveller_links_their_profile_and_sees_their_trips(
    live_server: LiveServer, clock: Clock
) -> None:
    booking_ref = load_demo_world(clock.start).demo_booking_ref
    user = User.objects.create_user("ines", password=PASSWORD)
    user.groups.add(Group.objects.get(name=TRAVELLERS_GROUP))
    with _chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, live_server.url, "ines")
        page.goto(f"{live_server.url}/profile/")
        page.get_by_role("textbox", name="Loyalty number").fill(DEMO_MEMBER_ID)
        page.get_by_role("textbox", name="Booking reference").fill("XXXXXX")
        page.get_by_role("button", name="Link", exact=True).click()
        page.get_by_text("We could not match that loyalty number").wait_for()
        page.screenshot(path=SCREENSHOTS / "profile-link-refused.png", full_page=True)
        page.get_by_role("textbox", name="Booking reference").fill(booking_ref)
        page.get_by_role("button", name="Link", exact=True).click()
        # Both values are on every boarding pass: the member's own email confirms the link.
        page.get_by_text("We sent a confirmation link to the email of that loyalty").wait_for()
        page.goto(live_server.url + _confirmation_path(str(mail.outbox[-1].body)))
        page.get_by_text("Alex Morgan").first.wait_for()
        page.get_by_text(booking_ref).first.wait_for()
        page.screenshot(path=SCREENSHOTS / "profile-desktop.png", full_page=True)
        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=SCREENSHOTS / "profile-375.png", full_page=True)
        page.close()
    assert ProfileLink.objects.get(user=user).value == DEMO_MEMBER_ID


def _confirmation_path(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/profile/link/email/\S+)", body)
    assert match is not None, body
    return match.group(1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_admin_writes_an_article_with_a_live_preview(live_server: LiveServer) -> None:
    admin = User.objects.create_user("kim", password=PASSWORD)
    admin.groups.add(Group.objects.get(name=KNOWLEDGE_ADMINS_GROUP))
    dialogs: list[str] = []
    with _chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def record(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", record)
        sign_in(page, live_server.url, "kim")
        page.goto(f"{live_server.url}/knowledge/new")
        page.get_by_label("Id (in its address)").fill("ski-carriage")
        page.get_by_label("Title").fill("Carrying skis")
        page.get_by_label("Tags").fill("baggage, sports")
        page.locator("#id_body").fill(
            "One ski bag travels for 45 GBP.\n\n## Boots\n\nBoots go in the same bag."
            '\n\n<img src=x onerror="alert(1)"><script>alert(2)</script>'
        )
        page.locator("#preview-pane h2", has_text="Boots").wait_for()
        page.screenshot(path=SCREENSHOTS / "editor-preview.png", full_page=True)
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved version 1").wait_for()
        # What the relay and the documents stream do in a running stack; in a thread of its
        # own, as Playwright's event loop runs in this one.
        ThreadPoolExecutor(1).submit(deliver_outbox).result()
        page.reload()
        page.get_by_text("became answerable").wait_for()
        page.screenshot(path=SCREENSHOTS / "editor-saved.png", full_page=True)
        page.goto(f"{live_server.url}/help/ski-carriage#boots")
        page.get_by_role("heading", name="Boots").wait_for()
        page.screenshot(path=SCREENSHOTS / "help-article.png", full_page=True)
        page.close()
    assert dialogs == []  # neither the preview nor the article ran the script
    assert Document.objects.get().title == "Carrying skis"
