"""Personal data out of free text: the traveller's own values, then anyone's by pattern."""

from __future__ import annotations

from exports.scrub import known_values, text_scrub


def test_it_replaces_patterns_with_placeholders() -> None:
    text = "mail a.b+c@mail.example.co.uk, call +44 20 7946 0018, ref G9B25A, TB-123456789, C-77"
    assert text_scrub(text) == (
        "mail [EMAIL], call [PHONE], ref [BOOKING_REF], [LOYALTY_ID], [CRM_ID]"
    )


def test_it_keeps_dates_times_prices_and_flight_ids() -> None:
    text = "BA117-2026-12-01 leaves 2026-12-01 08:25, 412.00 GBP, hotel H-NYC-0042, 2 adults"
    assert text_scrub(text) == text


def test_it_replaces_the_travellers_own_name_and_all_letter_booking_refs() -> None:
    known = known_values(names=["Ana Silva"], booking_refs=["QWERTY"])
    assert text_scrub("ana silva, or just Silva, booked QWERTY", known=known) == (
        "[NAME], or just [NAME], booked [BOOKING_REF]"
    )


def test_it_leaves_words_that_only_contain_a_name() -> None:
    assert text_scrub("Anabelle", known=known_values(names=["Ana"])) == "Anabelle"
