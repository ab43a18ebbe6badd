"""Prices, times and flight numbers an answer quotes must be in the turn's context."""

from __future__ import annotations

from chat.grounding import ungrounded_numbers
from chat.rendering import answer_html

CONTEXT = "fare BA117 economy class Y: 412.00 GBP; BA117 LHR->JFK departs Fri 04 Dec 10:15 UTC"


def test_numbers_from_the_context_pass() -> None:
    answer = "BA117 leaves at 10:15 and economy costs £412.00."
    assert ungrounded_numbers(answer, CONTEXT) == []


def test_an_invented_price_time_or_flight_is_flagged() -> None:
    answer = "BA119 leaves at 11:30 and costs 399.99 GBP."
    assert ungrounded_numbers(answer, CONTEXT) == ["399.99 GBP", "11:30", "BA119"]


def test_a_flagged_number_is_marked_in_the_rendered_answer() -> None:
    rendered = answer_html("It costs 399.99 GBP.", ["399.99 GBP"])
    assert '<mark class="ungrounded" title="not from our data">399.99 GBP</mark>' in rendered
    assert "(not from our data)" in rendered
