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


def test_a_flight_number_of_any_carrier_the_feeds_carry_is_checked() -> None:
    context = "fare FI553 economy class Y: 187.40 EUR"
    answer = "FI553 costs 187.40 EUR; U2 8123 is cheaper."
    assert ungrounded_numbers(answer, context, carriers=frozenset({"FI", "U2"})) == ["U2 8123"]


def test_an_unknown_designator_written_together_is_checked_but_not_a_model_name() -> None:
    answer = "Take XY123 on an A380, which emits less CO2."
    assert ungrounded_numbers(answer, CONTEXT) == ["XY123"]
