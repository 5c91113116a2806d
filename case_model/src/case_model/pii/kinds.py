"""The placeholders that replace personal data: one per kind, each a token the model may learn.

Square brackets appear in no masking pattern, so a placeholder is never masked again: masking is
idempotent. A placeholder keeps the fact that something was there ("the customer sent their
IBAN"), which is itself a useful feature.
"""

from __future__ import annotations

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
IP_ADDRESS = "[IP]"
MAC_ADDRESS = "[MAC]"
SERIAL = "[SERIAL]"
IBAN = "[IBAN]"
CARD = "[CARD]"
SECRET = "[SECRET]"  # noqa: S105 - a placeholder, not a password

#: Every placeholder, in the order the maskers run.
PLACEHOLDERS: tuple[str, ...] = (SECRET, EMAIL, IBAN, MAC_ADDRESS, IP_ADDRESS, SERIAL, CARD, PHONE)
