"""IBANs and payment-card numbers, recognised by their check digits (python-stdnum), not by shape.

An IBAN's length and layout are fixed per country and it carries a mod-97 check; a card number
carries a Luhn check digit and an issuer prefix. Checking them keeps order numbers and invoice
references, which have the same shapes, out of the masks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from stdnum import iban as iban_numbers
from stdnum import luhn, numdb
from stdnum.iso7064 import mod_97_10

from case_model.patterns import compile_scanner
from case_model.pii.kinds import IBAN
from case_model.pii.spans import glued, replace_spans

# Where an IBAN may start: country code and check digits. Its length comes from the country.
_IBAN_START = compile_scanner(r"[A-Za-z]{2}[0-9]{2}")
_CARD_LENGTHS = range(13, 20)
# Issuer identification numbers of the card schemes CRM customers pay with (Visa, Mastercard,
# American Express, Discover, Diners, JCB, Maestro, UnionPay).
_CARD_PREFIXES = (
    "4",
    "51",
    "52",
    "53",
    "54",
    "55",
    "2",
    "34",
    "37",
    "6",
    "30",
    "36",
    "38",
    "35",
    "50",
    "56",
    "57",
    "58",
)


@functools.cache
def iban_length(country: str) -> int | None:
    """The length of ``country``'s IBANs (SWIFT's registry, as python-stdnum ships it), or None."""
    parts = numdb.get("iban").info(country.upper() + "00")
    structure = parts[0][1].get("bban", "") if len(parts) > 1 else ""
    # Fields of fixed length and a type: "8!n10!n" is 8 digits then 10 digits.
    lengths = [
        int(field)
        for field in structure.replace("!", " ").replace("n", " ").replace("a", " ").replace("c", " ").split()
    ]
    return 4 + sum(lengths) if lengths else None


def _iban_end(text: str, start: int, length: int) -> int | None:
    """Where an IBAN of ``length`` characters starting at ``start`` ends (printed groups are
    separated by single spaces), or None when the text runs out of letters and digits first."""
    taken, index = 0, start
    while taken < length:
        if index < len(text) and text[index].isascii() and text[index].isalnum():
            taken += 1
        elif not (index < len(text) and text[index] == " " and taken % 4 == 0 and taken):
            return None
        index += 1
    return index


def _iban_spans(text: str) -> Iterator[tuple[int, int, str]]:
    cursor = 0
    for match in _IBAN_START.finditer(text):
        start = match.start()
        length = iban_length(match.group(0)[:2])
        if start < cursor or length is None or glued(text, start - 1):
            continue
        end = _iban_end(text, start, length)
        if end is None or glued(text, end):
            continue
        compact = text[start:end].replace(" ", "").upper()
        # The cheap mod-97 check first; the country's own layout only for the rare survivor.
        if mod_97_10.is_valid(compact[4:] + compact[:4]) and iban_numbers.is_valid(compact):
            yield start, end, IBAN
            cursor = end


def mask_ibans(text: str) -> str:
    """Every valid IBAN, printed in groups of four or without spaces, in upper or lower case."""
    return replace_spans(text, _iban_spans(text))


def card_lengths(digits: str) -> range:
    """Digit counts a card number starting with ``digits`` can have (none without a scheme prefix)."""
    return _CARD_LENGTHS if digits.startswith(_CARD_PREFIXES) else range(0)


def is_card_number(digits: str) -> bool:
    """A payment-card number: 13 to 19 digits, a card scheme's prefix, a valid Luhn check digit."""
    return len(digits) in _CARD_LENGTHS and digits.startswith(_CARD_PREFIXES) and luhn.is_valid(digits)
