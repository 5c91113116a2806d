"""Every kind of PII is masked with its placeholder, and error codes and products are not."""

from __future__ import annotations

import pytest

from case_model.pii import mask_pii
from case_model.text import clean_text


@pytest.mark.parametrize(
    ("raw", "placeholder", "secret"),
    [
        ("mail me at anna.schmidt+it@acme-corp.co.uk today", "[EMAIL]", "anna.schmidt"),
        ("call +49 170 1234567 please", "[PHONE]", "1234567"),
        ("call (555) 123-4567 ext", "[PHONE]", "123-4567"),
        ("call 0044 20 7946 0958", "[PHONE]", "7946"),
        ("gateway 192.168.10.254 drops", "[IP]", "192.168.10.254"),
        ("ipv6 fe80::1ff:fe23:4567:890a down", "[IP]", "fe80"),
        ("ipv6 2001:db8:85a3::8a2e:370:7334 down", "[IP]", "2001:db8"),
        ("Service Tag: 7XK2M3Q", "[SERIAL]", "7XK2M3Q"),
        ("S/N 4CE0460D0G on the box", "[SERIAL]", "4CE0460D0G"),
        ("serial number: abc-12345-xyz", "[SERIAL]", "abc-12345-xyz"),
        ("my tag is 9H2KLM4 thanks", "[SERIAL]", "9H2KLM4"),
    ],
)
def test_each_kind_of_pii_is_masked(raw, placeholder, secret):
    masked = mask_pii(raw)
    assert placeholder in masked
    assert secret not in masked


@pytest.mark.parametrize(
    "text",
    [
        "ePSA error 2000-0142 on the Latitude 7420",
        "stop code 0x0000007B after update",
        "XPS 13 9310 with 16 GB",
        "order 123-4567890",
        "BIOS version 1.18.0",
    ],
)
def test_error_codes_products_and_versions_are_kept(text):
    assert mask_pii(text) == text


def test_masking_is_idempotent():
    once = mask_pii("anna@x.com 10.0.0.1 +1 555 123 4567 Service Tag 7XK2M3Q")
    assert mask_pii(once) == once


def test_pii_inside_html_and_zero_width_is_still_masked():
    cleaned = clean_text("<p>anna\u200b@acme.com</p> tag&#58; 7XK2M3Q")
    assert "anna" not in cleaned
    assert "7XK2M3Q" not in cleaned
