"""PII redaction: each kind of personal data, checksums that keep ordinary numbers readable, quotes."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tools.redact import PLACEHOLDERS, iban_valid, luhn_valid, quote, redact, redact_detail, truncate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+cx@example.co.uk please", "write to [EMAIL] please"),
        ("call +44 20 7946 0958 today", "call [PHONE] today"),
        ("call me on (555) 123-4567", "call me on [PHONE]"),
        ("my number is 555-123-4567.", "my number is [PHONE]."),
        ("UK mobile 07700 900123", "UK mobile [PHONE]"),
        (" Call me on +1 415 555 0123.", " Call me on [PHONE]."),
        ("card 4111 1111 1111 1111 charged", "card [CARD] charged"),
        ("paid with 4111-1111-1111-1111", "paid with [CARD]"),
        ("My card 4123 4567 8901 2345 was charged twice.", "My card [CARD] was charged twice."),
        ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "IBAN [IBAN] for the refund"),
        ("send to GB82WEST12345698765432", "send to [IBAN]"),
        ("reset via https://app.example.com/reset?token=abc123", "reset via [URL]"),
        ("see https://x.io/s/AbCdEf1234567890XyZ now", "see [URL] now"),
        ("I live at 221b Baker Street, London", "I live at [ADDRESS], London"),
        ("bitte an Hauptstraße 12 schicken", "bitte an [ADDRESS] schicken"),
    ],
)
def test_each_kind_of_pii_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped late",  # 16 digits failing Luhn, no card word: an order number
        "on 2024-01-15 at 10:30 I paid 1299 EUR",
        "the Pro plan is $49.99 and 1,299.00 a year",
        "version 2.3.1 crashes",
        "see https://example.com/pricing for plans",
        "waited 45 minutes on hold, 3 times",
        "2 days and no way out",
        "DE00 1234 is not an iban",
    ],
)
def test_ordinary_numbers_and_plain_links_stay(text: str) -> None:
    assert redact(text) == text


def test_counts_per_placeholder() -> None:
    detail = redact_detail("a@b.io, c@d.org and +1 212 555 0100")
    assert detail.counts == {"[EMAIL]": 2, "[PHONE]": 1}


def test_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")


def test_quote_redacts_before_truncating() -> None:
    text = "Please call me at +1 212 555 0100 about the " + "very " * 60 + "slow demo"
    out = quote(text, 60)
    assert "[PHONE]" in out and "555" not in out
    assert len(out) <= 60 and out.endswith("…")
    assert truncate("short", 60) == "short"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=120))
@example("00000000000000000000")  # a 20-digit Luhn-valid run, longer than any card (found by hypothesis)
def test_redaction_is_idempotent_and_leaves_no_long_digit_runs(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
    digits = "".join(ch if ch.isdigit() else " " for ch in once).split()
    assert all(len(run) < 16 or not luhn_valid(run) for run in digits)


def test_placeholders_are_documented() -> None:
    assert set(PLACEHOLDERS) >= {"[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[URL]"}
