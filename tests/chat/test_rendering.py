"""An answer's HTML: links stay on our pages, and ungrounded numbers are marked on the
Markdown's text, never inside HTML attributes or URLs."""

from __future__ import annotations

import pytest

from chat.rendering import answer_html, on_site

MARK = '<mark class="ungrounded" title="not from our data">'


def test_an_offsite_link_is_shown_as_text_with_its_domain() -> None:
    html = answer_html("Pay [click](https://evil.example/x) now.", [])
    assert "<a" not in html
    assert "Pay click (evil.example/…) now." in html


def test_an_offsite_autolink_shows_its_domain_only() -> None:
    assert answer_html("<https://evil.example>", []) == "<p>evil.example</p>\n"


@pytest.mark.parametrize(
    "href",
    [
        "//evil.example/x",
        "///evil.example/x",
        "https://evil.example@localhost.evil.example/",
        "mailto:someone@evil.example",
        "ftp://evil.example/",
        "https://localhost.evil.example/",
    ],
)
def test_tricky_addresses_are_off_site(href: str) -> None:
    assert not on_site(href)


@pytest.mark.parametrize("href", ["/help/bags#fees", "?c=1", "#top", "http://localhost:8000/x"])
def test_relative_links_and_our_own_host_stay_links(href: str) -> None:
    assert on_site(href)
    assert f'<a href="{href}"' in answer_html(f"[ours]({href})", [])


def test_raw_html_in_an_answer_is_shown_as_text() -> None:
    html = answer_html('<a href="https://evil.example">x</a> <img src=x onerror=alert(1)>', [])
    assert "<a" not in html and "<img" not in html and "&lt;a href=" in html


def test_a_number_inside_a_url_or_title_is_not_marked() -> None:
    answer = '[times](/help/schedule?at=10:15 "leaves 10:15") then 10:15'
    html = answer_html(answer, ["10:15"])
    assert '<a href="/help/schedule?at=10:15" title="leaves 10:15"' in html
    assert html.count(MARK) == 1 and html.endswith(
        f'then {MARK}10:15</mark><span class="ungrounded__note"> (not from our data)</span></p>\n'
    )


def test_a_number_in_emphasis_or_link_text_is_marked() -> None:
    html = answer_html("**399.99 GBP** or [BA119](/help/flights)", ["399.99 GBP", "BA119"])
    assert f"<strong>{MARK}399.99 GBP</mark>" in html
    assert f'<a href="/help/flights" rel="noopener noreferrer nofollow">{MARK}BA119</mark>' in html


def test_a_number_inside_a_longer_number_is_not_marked() -> None:
    assert MARK not in answer_html("It costs 1399.99 GBP or 399.991.", ["399.99"])
