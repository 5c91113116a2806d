"""Masking of personal data in case logs, with stable placeholders (see :mod:`case_model.pii.kinds`).

Case logs hold what customers wrote: e-mail addresses, phone numbers, bank and card numbers,
network addresses, links with tokens, and the service tags or serial numbers that identify their
machine. The classifier needs none of them, the stored texts and training sets must not hold
them. Maskers run in a fixed order, each on the output of the one before; every one takes time
linear in the text (:mod:`case_model.patterns`).

Not masked: person names and postal addresses. No pattern tells a name from a product or a
street from a sentence with useful precision, and a named-entity model is more than the text
steps can run per case. What follows is said in the README: stored texts (the prediction log,
training data) may hold names and addresses, and the model's vocabulary may hold frequent names.
"""

from __future__ import annotations

from case_model.pii.banking import mask_ibans
from case_model.pii.kinds import CARD, EMAIL, IBAN, IP_ADDRESS, MAC_ADDRESS, PHONE, PLACEHOLDERS, SECRET, SERIAL
from case_model.pii.network import mask_network_addresses
from case_model.pii.numbers import mask_numbers
from case_model.pii.phones import Budget
from case_model.pii.serials import mask_serials
from case_model.pii.web import mask_emails, mask_secrets

__all__ = [
    "CARD",
    "EMAIL",
    "IBAN",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "PHONE",
    "PLACEHOLDERS",
    "SECRET",
    "SERIAL",
    "mask_pii",
]


def mask_pii(text: str) -> str:
    """Replace every kind of personal data the maskers know with its placeholder.

    Args:
        text: Any text; unicode and markup are tolerated.

    Returns:
        The text with every match replaced by its placeholder.
    """
    text = mask_secrets(text)  # before e-mails: user:password@host is not an address
    text = mask_emails(text)
    text = mask_ibans(text)  # before the number runs: an IBAN's digits would look like a phone's
    text = mask_network_addresses(text)
    text = mask_serials(text)
    return mask_numbers(text, Budget())
