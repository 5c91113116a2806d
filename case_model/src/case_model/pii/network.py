"""MAC addresses and IPv4/IPv6 addresses: they identify a customer's machine or network.

Candidates are found by bounded patterns; whether a candidate stands on its own (not part of a
longer dotted number such as a driver version) is checked in code on the characters around it,
and an IPv6 candidate must parse as one.
"""

from __future__ import annotations

import ipaddress

from case_model.patterns import Match, compile_pattern
from case_model.pii.kinds import IP_ADDRESS, MAC_ADDRESS

_HEX2 = "[0-9A-Fa-f]{2}"
_MAC = compile_pattern(
    rf"{_HEX2}(?::{_HEX2}){{5}}|{_HEX2}(?:-{_HEX2}){{5}}|[0-9A-Fa-f]{{4}}\.[0-9A-Fa-f]{{4}}\.[0-9A-Fa-f]{{4}}"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = compile_pattern(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV6 = compile_pattern(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[A-Za-z0-9_.]{1,16})?")


def _word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


def _mask_mac(match: Match) -> str:
    """Six groups on their own: not glued to a word, nor to more groups on either side."""
    text, start, end = match.string, match.start(), match.end()
    if _word_char(text, start - 1) or _word_char(text, end) or text[end : end + 1] in (":", "-", "."):
        return match.group(0)
    if start and text[start - 1] in ":-.":
        return match.group(0)
    return MAC_ADDRESS


def _mask_ipv4(match: Match) -> str:
    """Only a dotted quad on its own: ``10.0.0.1`` and ``10.0.0.1.`` but not ``31.0.15.3623.1``."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end : end + 2]
    glued_before = before == "." or _word_char(text, start - 1)
    glued_after = _word_char(text, end) or (after[:1] == "." and after[1:2].isdigit())
    return match.group(0) if glued_before or glued_after else IP_ADDRESS


def _mask_ipv6(match: Match) -> str:
    text, start, end = match.string, match.start(), match.end()
    if (
        (start and (text[start - 1] in ":." or _word_char(text, start - 1)))
        or (_word_char(text, end) or text[end : end + 1] == ":")
        or not any(ch.isalnum() for ch in match.group(0))
    ):
        return match.group(0)
    try:
        ipaddress.IPv6Address(match.group(0).split("%", 1)[0])
    except ValueError:
        return match.group(0)
    return IP_ADDRESS


def mask_network_addresses(text: str) -> str:
    """MAC addresses first (a colon MAC is no IPv6 address, but looks like one), then IPs.

    A pattern runs only when the text holds the separators its matches need (the RE2 wrapper
    costs ~10 microseconds a call).
    """
    colons = text.count(":")
    if colons >= 5 or "-" in text or "." in text:
        text = _MAC.sub(_mask_mac, text)
    if text.count(".") >= 3:
        text = _IPV4.sub(_mask_ipv4, text)
    if colons >= 2:
        text = _IPV6.sub(_mask_ipv6, text)
    return text
