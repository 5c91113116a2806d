"""Masking of personal data in case logs, with stable placeholders.

Case logs hold what customers wrote: e-mail addresses, phone numbers, IP addresses and the service
tags or serial numbers that identify their machine. The classifier needs none of them, logs and
training sets must not hold them, and a stable placeholder (``[EMAIL]``) keeps the fact that one
was there, which is itself a useful feature. Placeholders use square brackets, which no masking
pattern matches, so masking is idempotent.
"""

from __future__ import annotations

import ipaddress
import re

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
IP_ADDRESS = "[IP]"
SERIAL = "[SERIAL]"

#: Placeholders in the order they are applied; every one is a token the model may learn.
PLACEHOLDERS: tuple[str, ...] = (EMAIL, IP_ADDRESS, SERIAL, PHONE)

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.]*\d)")
# IPv6 candidates (hex groups and colons) are confirmed by the ipaddress module.
_IPV6_CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
# A serial after its keyword ("Service Tag: 7XK2M3Q", "S/N 4CE0460D0G"), whatever its shape...
_LABELLED_SERIAL = re.compile(
    r"(?i)\b(service\s*tag|serial(?:\s*(?:number|no\.?|nr\.?|#))?|s/n|sn|seriennummer|"
    r"numéro\s+de\s+série|número\s+de\s+serie|express\s+service\s+code)(\s*[:#=]?\s*)"
    r"(?!\[)([A-Za-z0-9][A-Za-z0-9-]{4,24})\b"
)
# ...and a bare service-tag-shaped token: 7 upper-case letters and digits with both kinds.
_BARE_SERVICE_TAG = re.compile(r"\b(?=[A-Z0-9]{7}\b)(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{7}\b")
# International or national numbers: at least 9 digits, separators allowed between groups.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d(?:[\s./-]?\(?\d{1,5}\)?){3,}(?![\w])")
_MIN_PHONE_DIGITS = 9


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0).split("%", 1)[0])
    except ValueError:
        return match.group(0)
    return IP_ADDRESS


def _phone(match: re.Match[str]) -> str:
    number = match.group(0)
    digits = sum(ch.isdigit() for ch in number)
    # Two digit groups ("123-4567890") look like an order number, not a phone number, unless the
    # number is written as an international or area-coded one.
    grouped = len(re.findall(r"\d+", number)) >= 3 or number.startswith(("+", "00", "("))
    return PHONE if digits >= _MIN_PHONE_DIGITS and grouped else number


def mask_pii(text: str) -> str:
    """Replace e-mail addresses, IP addresses, serials/service tags and phone numbers.

    Args:
        text: Any text; unicode and markup are tolerated.

    Returns:
        The text with every match replaced by its placeholder.
    """
    text = _EMAIL.sub(EMAIL, text)
    text = _IPV4.sub(IP_ADDRESS, text)
    text = _IPV6_CANDIDATE.sub(_ipv6, text)
    text = _LABELLED_SERIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{SERIAL}", text)
    text = _BARE_SERVICE_TAG.sub(SERIAL, text)
    return _PHONE.sub(_phone, text)
