"""Every page carries a strict Content-Security-Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from travelbot.roles import KNOWLEDGE_ADMINS_GROUP

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/", "/profile/", "/knowledge/", "/knowledge/new", "/staff/streams/", "/staff/feedback/",
     "/staff/profiles/", "/staff/turns/"],
)  # fmt: skip
def test_pages_carry_a_strict_csp(path: str) -> None:
    user = User.objects.create_user("ops", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=KNOWLEDGE_ADMINS_GROUP)[0])
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"  # the chat's websocket, to the same host
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


def test_pages_for_anyone_carry_it_too() -> None:
    response = Client().get("/accounts/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_no_template_has_inline_script_style_or_handler() -> None:
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    templates = Path(__file__).resolve().parents[2] / "templates"
    offenders = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if inline.search(path.read_text())
    ]
    assert offenders == []
