"""The knowledge editor: who may use it, saving through the outbox, history, help pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from knowledge.models import Document, Revision
from travelbot.models import OutboxMessage
from travelbot.roles import KNOWLEDGE_ADMINS_GROUP

pytestmark = pytest.mark.django_db
DOC = {
    "doc_id": "pets",
    "title": "Pets in the cabin",
    "body": "Small pets travel in the cabin.\n\n## Fees\nA pet costs 45 GBP each way.",
    "tags": "pets, fees",
    "effective_from": "2026-01-01",
    "effective_to": "",
}


def client_for(username: str, *, admin: bool = False, **extra: Any) -> Client:
    user = User.objects.create_user(username, **extra)
    if admin:
        user.groups.add(Group.objects.get_or_create(name=KNOWLEDGE_ADMINS_GROUP)[0])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor() -> Client:
    return client_for("editor", admin=True)


@pytest.mark.parametrize(
    "path",
    ["/knowledge/", "/knowledge/new", "/knowledge/pets/", "/knowledge/pets/history"],
)
def test_only_knowledge_admins_reach_the_editor(path: str) -> None:
    Document.objects.create(doc_id="pets", title="Pets", body="x", updated_at="2026-11-01T00:00Z")
    Revision.objects.create(
        doc_id="pets",
        version=1,
        title="Pets",
        body="x",
        saved_at="2026-11-01T00:00Z",
        published_lsn=1,
    )
    assert client_for("traveller").get(path).status_code == 403
    assert client_for("ops", is_staff=True).get(path).status_code == 403
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_saving_writes_the_document_a_revision_and_an_outbox_event(editor: Client) -> None:
    response = editor.post("/knowledge/new", DOC, follow=True)
    assert "Saved version 1" in response.content.decode()
    document = Document.objects.get()
    assert (document.version, document.tags) == (1, ["pets", "fees"])
    message = OutboxMessage.objects.get()
    assert message.topic == "knowledge.documents" and message.key == {"doc_id": "pets"}
    assert message.value is not None
    assert message.value["op"] == "c" and message.value["after"]["title"] == "Pets in the cabin"
    assert message.value["source"]["system"] == "travelbot-editor"


def test_each_save_is_a_version_with_a_diff_and_an_earlier_one_can_be_restored(
    editor: Client,
) -> None:
    editor.post("/knowledge/new", DOC)
    editor.post("/knowledge/pets/", {**DOC, "body": DOC["body"].replace("45", "55")})
    diff = editor.get("/knowledge/pets/history?old=1&new=2").content.decode()
    assert "-A pet costs 45 GBP each way." in diff and "+A pet costs 55 GBP each way." in diff
    editor.post("/knowledge/pets/restore/1")
    document = Document.objects.get()
    assert document.version == 3 and "45 GBP" in document.body
    lsns = list(Revision.objects.order_by("version").values_list("published_lsn", flat=True))
    assert lsns == sorted(lsns) and len(set(lsns)) == 3


def test_deleting_publishes_a_delete(editor: Client) -> None:
    editor.post("/knowledge/new", DOC)
    editor.post("/knowledge/pets/delete")
    assert Document.objects.get().deleted
    last = OutboxMessage.objects.order_by("-id").first()
    assert last is not None and last.value is not None and last.value["op"] == "d"
    assert editor.get("/knowledge/pets/").status_code == 404


def test_a_bad_form_gets_messages_not_a_500(editor: Client) -> None:
    page = editor.post(
        "/knowledge/new",
        {**DOC, "doc_id": "Bad Id!", "effective_from": "2027-01-01", "effective_to": "2026-01-01"},
    ).content.decode()
    assert "Use lower-case letters" in page and "cannot end before it starts" in page
    assert not Document.objects.exists()


def test_the_preview_renders_markdown_and_nothing_executable(editor: Client) -> None:
    html = editor.post(
        "/knowledge/preview",
        {"body": "## Fees\n<script>alert(1)</script><img src=x onerror=alert(2)>"},
    ).content.decode()
    assert '<h2 id="fees">Fees</h2>' in html
    assert "<script" not in html and "onerror" not in html


def test_the_search_api_is_for_staff_and_checks_its_parameters() -> None:
    assert Client().get("/api/knowledge/search?q=pets").status_code == 401
    assert client_for("traveller").get("/api/knowledge/search?q=pets").status_code == 403
    staff = client_for("ops", is_staff=True)
    assert staff.get("/api/knowledge/search").status_code == 400
    assert staff.get("/api/knowledge/search?q=pets&k=0").status_code == 400
    assert staff.get("/api/knowledge/search?q=pets&date=9999-01-01").status_code == 400
    assert staff.get("/api/knowledge/search?q=pets").json() == {"results": []}


def test_an_unknown_help_article_is_a_404() -> None:
    assert Client().get("/help/nothing-here").status_code == 404
