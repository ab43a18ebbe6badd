"""The staff dashboards and the knowledge editor's approval, in a real browser, break no rule
of the Content-Security-Policy (the browser helper fails a test on any violation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Group, User

from knowledge.models import Document
from knowledge.streams import documents_apply
from tests.e2e.test_profile_and_editor import PASSWORD, sign_in
from tests.e2e.test_signup_flow import SCREENSHOTS, _chromium
from tests.knowledge.test_approval import BODY
from tests.knowledge.test_pipeline import doc_event
from travelbot.roles import KNOWLEDGE_ADMINS_GROUP, TRAVELLERS_GROUP

if TYPE_CHECKING:
    from pytest_django.live_server_helper import LiveServer

STAFF_PAGES = (
    "/staff/streams/", "/staff/profiles/", "/staff/feedback/", "/staff/exports/",
    "/staff/turns/", "/knowledge/", "/profile/", "/",
)  # fmt: skip


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_staff_pages_and_the_approval_of_a_flagged_passage_keep_to_the_csp(
    live_server: LiveServer,
) -> None:
    staff = User.objects.create_user("ops", password=PASSWORD, is_staff=True)
    staff.groups.add(Group.objects.get(name=KNOWLEDGE_ADMINS_GROUP))
    traveller = User.objects.create_user("ines", password=PASSWORD)
    traveller.groups.add(Group.objects.get(name=TRAVELLERS_GROUP))
    Document.objects.create(
        doc_id="bags", title="Baggage", body=BODY, updated_at="2026-11-01T00:00Z"
    )
    documents_apply([doc_event("bags", BODY, lsn=1)])
    with _chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, live_server.url, "ops")
        page.wait_for_url(f"{live_server.url}/")
        for path in STAFF_PAGES:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_timeout(1200)  # the dashboards' htmx refreshes swap content in
        page.goto(f"{live_server.url}/knowledge/bags/")
        page.get_by_text("awaiting approval").first.wait_for()
        page.get_by_role("button", name="Approve this passage").click()
        page.get_by_text("the assistant may now use that passage").wait_for()
        page.screenshot(path=SCREENSHOTS / "editor-approved.png", full_page=True)
        page.close()

        refused = browser.new_page()
        sign_in(refused, live_server.url, "ines")
        refused.wait_for_url(f"{live_server.url}/")
        refused.goto(f"{live_server.url}/staff/streams/")
        refused.get_by_text("This page is not for your role").wait_for()
        refused.close()
