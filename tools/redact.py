"""PII redaction applied to feedback text before it is stored, shown or sent anywhere.

Replacements (each a bracketed placeholder, so counts and themes stay readable):

* ``[EMAIL]``   e-mail addresses;
* ``[URL]``     web addresses that carry a query string, fragment, credentials or a token-like path segment
  (password-reset links, signed links); plain addresses such as ``example.com/pricing`` are kept;
* ``[IBAN]``    IBANs that pass the ISO 13616 mod-97 check;
* ``[CARD]``    card numbers: runs of 13 or more digits (spaces/dashes allowed) that pass the Luhn check, and any
  13-19 digit run within a few words after "card", "visa", "mastercard" or "amex" (a mistyped card is still a card);
* ``[PHONE]``   phone numbers: ``+`` and 8-15 digits, or 9-15 digits written in groups/brackets;
* ``[ADDRESS]`` street-like numbers: ``12 Baker Street``, ``221b Main Rd``.

Checksums keep ordinary numbers (order numbers, prices, dates) readable: a 16-digit order id that fails Luhn
stays. Redaction is deliberately greedy for phones: a long digit run that is not a card is treated as a phone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

PLACEHOLDERS = ("[EMAIL]", "[URL]", "[IBAN]", "[CARD]", "[PHONE]", "[ADDRESS]")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# A path segment of 16+ characters mixing letters and digits looks like a token or signature.
_TOKENISH = re.compile(r"(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\d\w])(?:\d[ \-]?){12,}\d(?![\d\w])")  # 13+ digits: longer runs that pass Luhn too
_CARD_CONTEXT = re.compile(r"(?i)\b(?:card|visa|mastercard|amex)\b(?:\W+\w+){0,3}?\W+((?:\d[ \-]?){12,18}\d)(?![\d\w])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d \-().]{6,20}\d"  # international
    r"|\(?\d{2,5}\)?[ \-.]\d{2,5}(?:[ \-.]\d{2,5}){1,3}"  # grouped: (555) 123-4567, 555-123-4567
    r"|0\d{2,4}[ \-/]\d{5,8}"  # national trunk prefix: 07700 900123
    r"|\d{9,15})(?![\w])"
)
_DATE = re.compile(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}")
_STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|place|pl|court|ct|square|sq|"
    "strasse|straße|str|weg|allee|platz|gasse|rue|via|calle"
)
# "221b Baker Street": a house number, one to three capitalised words, then a street word (any case).
_ADDRESS = re.compile(rf"\b\d{{1,5}}[a-zA-Z]?,?\s+(?:[A-Z][\w'\-]+\s+){{1,3}}(?i:{_STREET_WORDS})\b\.?")
# "Hauptstraße 12": German-style compounds with the number after the street.
_ADDRESS_SUFFIX = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|allee|platz|gasse)\s+\d{1,4}[a-z]?\b")


@dataclass
class Redaction:
    """A redacted text and what was replaced (counts per placeholder)."""

    text: str
    counts: Counter[str] = field(default_factory=Counter)


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when ``candidate`` (spaces allowed) passes the IBAN mod-97 check."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _phone_like(candidate: str) -> bool:
    return 8 <= len(re.sub(r"\D", "", candidate)) <= 15 and not _DATE.fullmatch(candidate.strip("()"))


def _url_is_sensitive(url: str) -> bool:
    if "?" in url or "#" in url or "@" in url:
        return True
    path = url.split("://", 1)[-1].split("/", 1)[1] if "/" in url.split("://", 1)[-1] else ""
    return any(_TOKENISH.fullmatch(segment) for segment in path.split("/") if segment)


def redact_detail(text: str) -> Redaction:
    """Redact PII from ``text`` and count the replacements.

    Args:
        text: any free text (a survey answer, a ticket, a search query).

    Returns:
        The redacted text and a counter keyed by placeholder.
    """
    counts: Counter[str] = Counter()

    def sub(pattern: re.Pattern[str], placeholder: str, value: str, check: object = None) -> str:
        def replace(match: re.Match[str]) -> str:
            found = match.group(0)
            if check is not None and not check(found):  # type: ignore[operator]
                return found
            counts[placeholder] += 1
            return placeholder

        return pattern.sub(replace, value)

    # Order matters: e-mails and URLs first (they contain digits and dots), then checksummed numbers,
    # then phones, which would otherwise swallow card numbers and IBAN digits.
    out = sub(_EMAIL, "[EMAIL]", text)
    out = sub(_URL, "[URL]", out, _url_is_sensitive)
    out = sub(_IBAN, "[IBAN]", out, iban_valid)
    out = sub(_CARD, "[CARD]", out, lambda s: luhn_valid(re.sub(r"\D", "", s)))
    out = _CARD_CONTEXT.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + _count(counts, "[CARD]"), out)
    out = sub(_PHONE, "[PHONE]", out, _phone_like)
    out = sub(_ADDRESS, "[ADDRESS]", out)
    out = sub(_ADDRESS_SUFFIX, "[ADDRESS]", out)
    return Redaction(out, counts)


def _count(counts: Counter[str], placeholder: str) -> str:
    counts[placeholder] += 1
    return placeholder


def redact(text: str) -> str:
    """``text`` with e-mails, phones, cards, IBANs, secret-bearing URLs and street addresses replaced."""
    return redact_detail(text).text


def truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters at a word boundary, marking the cut with ``…``."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[: max(max_chars - 1, 1)]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:") + "…"


def quote(text: str, max_chars: int = 200) -> str:
    """A quote safe to show or send: redacted first, then truncated (config ``[privacy] quote_chars``)."""
    return truncate(redact(text), max_chars)
