"""Whether a run of digit groups is a phone number, in the formats of the languages served.

``phonenumbers`` (Google's libphonenumber) knows every country's numbering plan; what it cannot
know is whether ``4711 0815`` in a case log is a phone number or an order number, since many
order numbers are valid numbers somewhere. So a run counts only in a phone number's shape, and
the library confirms it:

- international: ``+49 170 1234567``, ``+33 (0)1 23 45 67 89``: 8 to 15 digits after the plus
  sign are enough (nothing else is written that way, and a mistyped number is still personal);
  with ``00`` instead of the plus sign (``0049 30 1234567``), a possible number for its country;
- national with a trunk prefix (DE, AT, CH, FR, BE, GB, IE): ``0171 1234567``, ``030/1234567``,
  ``(030) 1234567``, ``01 23 45 67 89``, written in groups: a valid number in one of them;
- national without one: Spain (``912 345 678``, nine digits from 6 to 9, in groups) and North
  America (``(212) 555-0147``, ``212-555-0147``): a valid number, or a possible one with its area
  code in brackets;
- written in one block (``01711234567``): the same, but only right after a word such as "Tel",
  "Handy", "téléphone" or "llamar".

Validation costs about 0.1 ms a call; a text that asks for more than ``MAX_VALIDATIONS`` of them
is hostile or junk, and from there on the shapes above are masked without asking (privacy first).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from case_model.pii.kinds import PLACEHOLDERS

#: Countries whose national numbers start with the trunk prefix 0, tried in this order.
TRUNK_REGIONS = ("DE", "FR", "GB", "AT", "CH", "BE", "IE")
#: Words that announce a phone number right before it (lower case, any of EN/DE/FR/ES).
KEYWORDS = (
    "tel",
    "phone",
    "mobile",
    "cell",
    "fax",
    "call",
    "ring",
    "handy",
    "mobil",
    "rufnummer",
    "anruf",
    "rufen",
    "appel",
    "portable",
    "téléphone",
    "teléfono",
    "móvil",
    "llam",
)
#: Characters before a run that are searched for a keyword.
KEYWORD_WINDOW = 24
MAX_VALIDATIONS = 32
_MIN_DIGITS, _MAX_DIGITS = 9, 15


@dataclass
class Budget:
    """How many library validations one text may still ask for."""

    remaining: int = MAX_VALIDATIONS

    def spend(self) -> bool:
        """Take one validation; False once the budget is used up."""
        self.remaining -= 1
        return self.remaining >= 0


@dataclass(frozen=True)
class Run:
    """Consecutive digit groups as written: the text, its digits, how many blocks, what precedes it."""

    text: str
    digits: str
    blocks: int
    context: str

    @property
    def announced(self) -> bool:
        """A word right before the run starts with a phone keyword ("Tel.", "Telefon", "call")."""
        context = self.context
        close, open_ = context.find("]"), context.find("[")
        if close >= 0 and (open_ < 0 or close < open_):  # the window starts inside a placeholder
            context = context[close + 1 :]  # ("PHONE] x "): no keyword either, or masking again would find one
        for placeholder in PLACEHOLDERS:  # "[PHONE]" before a number is no keyword
            context = context.replace(placeholder.lower(), " ")
        words = "".join(ch if ch.isalpha() else " " for ch in context).split()
        return any(word.startswith(KEYWORDS) for word in words)

    @property
    def grouped(self) -> bool:
        """Written in groups (``0171 1234567``, ``415-555-2671``), or with its area code set apart
        (``030/1234567``, ``(030) 1234567``). Two groups joined by a dash are how order numbers are
        written (``123-4567890``), so a dash or dot counts only between three groups or more."""
        if self.blocks >= 2 or "/" in self.text or "(" in self.text:
            return True
        groups = "".join(ch if ch.isdigit() else " " for ch in self.text).split()
        return len(groups) >= 3


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _valid_in(text: str, regions: tuple[str, ...], budget: Budget, possible: bool = False) -> bool:
    for region in regions:
        if not budget.spend():
            return True  # a hostile text: the shape was enough
        number = _parse(text, region)
        if number is not None and (
            phonenumbers.is_valid_number(number) or (possible and phonenumbers.is_possible_number(number))
        ):
            return True
    return False


def _national_regions(digits: str) -> tuple[tuple[str, ...], bool] | None:
    """The regions a national number could belong to, by its digits, and whether a possible (not
    only valid) number will do; None when no plan served here writes numbers like that."""
    if digits[0] == "0" and digits[1:2] != "0":
        return TRUNK_REGIONS, False
    if len(digits) == 9 and digits[0] in "6789":
        return ("ES",), False
    if (len(digits) == 10 and digits[0] in "23456789") or (len(digits) == 11 and digits[0] == "1" != digits[1]):
        return ("US",), True
    return None


def _international(digits: str, first: str) -> bool:
    return first == "+" or (digits.startswith("00") and digits[2:3] != "0")


def phone_lengths(first: str, digits: str) -> range | tuple[int, ...]:
    """Digit counts a phone number can have that is written starting with ``first`` and ``digits``
    (its first block), by the shapes in the module docstring."""
    if first == "+":
        return range(8, _MAX_DIGITS + 1)
    if _international(digits, first):
        return range(10, _MAX_DIGITS + 3)  # "00" and 8 to 15 digits
    if digits[0] == "0":
        return range(7, 13)
    return {"1": (11,), "6": (9, 10), "7": (9, 10), "8": (9, 10), "9": (9, 10)}.get(digits[0], (10,))


def is_phone_number(run: Run, budget: Budget) -> bool:
    """Whether ``run`` is a phone number (see the module docstring for the shapes)."""
    digits = run.digits
    if _international(digits, run.text[0]):
        number = digits[2:] if run.text.startswith("00") else digits
        if not 8 <= len(number) <= _MAX_DIGITS:
            return False
        if run.text.startswith("+"):
            return True
        return _valid_in("+" + run.text[2:], ("ZZ",), budget, possible=True)
    if len(digits) > 12:
        return False
    plan = _national_regions(digits)
    if plan is None:
        return False
    # Short local numbers ("(022) 12805") only with the area code set apart or a keyword before.
    minimum = _MIN_DIGITS - 1 if "(" in run.text else _MIN_DIGITS
    if not (run.grouped and len(digits) >= minimum) and not (run.announced and len(digits) >= 7):
        return False
    regions, possible = plan
    return _valid_in(run.text, regions, budget, possible=possible and "(" in run.text)
