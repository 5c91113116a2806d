"""Secrets in URLs, e-mail addresses, and e-mail addresses written to dodge spam filters.

A URL keeps its scheme, host and path (``support.example.com/drivers`` says something about the
case); its user info, query string, fragment and token-like path segments are secrets (password
reset links, session ids, signed download links) and become ``[SECRET]``.
"""

from __future__ import annotations

from case_model.patterns import NOT_WORD, SPACE, Match, any_of, compile_pattern
from case_model.pii.kinds import EMAIL, SECRET

# Up to whitespace, quotes or brackets: a partial match dies at the first of them.
_URL_CHARS = r"[^\s\p{Z}<>\"'\[\]{}|\\^`]+"
_URL = compile_pattern(rf"(?:https?|ftp)://{_URL_CHARS}|www\.{_URL_CHARS}", ignore_case=True)
_TRAILING_PUNCTUATION = ".,;:!?)"
_TOKEN_SEGMENT_CHARS = 16
# A bearer token or JWT outside a URL, and credentials written as "password: ...".
_JWT = compile_pattern(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_LABELLED_SECRET = compile_pattern(
    f"((?:^|{NOT_WORD})"
    + any_of(
        "password", "passwort", "kennwort", "mot de passe", "contraseña", "pwd", "api[_ -]?key", "access[_ -]?token"
    )
    + rf"{SPACE}*[:=]{SPACE}*)[^\s\p{{Z}}]+",
    ignore_case=True,
)

# What every labelled secret and every obfuscated address holds (lower case), checked first.
_SECRET_MARKERS = ("pass", "kennwort", "contraseña", "pwd", "api", "token")
_AT_MARKERS = (" at ", "at]", "at)", "at}", "at>", "@", " ät ", "ät)", "arobase", "arroba", " chez ")

_LOCAL = r"[\pL\pN_.!#$%&'*+/=?^`{|}~-]+"
_DOMAIN = r"[\pL\pN_-]+(?:\.[\pL\pN_-]+)+"
_EMAIL = compile_pattern(f"{_LOCAL}@{_DOMAIN}")
# "anna at example dot com", "anna[at]example[dot]de", "anna (at) firma (punkt) de": the
# bracketed forms are unambiguous; the bare-word forms count only before a known top-level domain.
_AT_WORDS = "at|@|ät|arobase|arroba"
_BRACKETED_AT = rf"[ \t]*(?:\[(?:{_AT_WORDS})\]|\((?:{_AT_WORDS})\)|\{{(?:{_AT_WORDS})\}}|<at>)[ \t]*"
_WORD_AT = r"[ \t]+(?:at|ät|arobase|arroba|chez)[ \t]+"
_BRACKETED_DOT = r"[ \t]*(?:\[(?:dot|punkt|point|punto|\.)\]|\((?:dot|punkt|point|punto|\.)\)|\{dot\})[ \t]*"
_WORD_DOT = r"[ \t]+(?:dot|punkt|point|punto)[ \t]+"
_LABEL = r"[\pL\pN_-]+"
_OBFUSCATED_EMAIL = compile_pattern(
    rf"[\pL\pN_.+-]+({_BRACKETED_AT}|{_WORD_AT}){_LABEL}"
    rf"(?:(?:{_BRACKETED_DOT}|{_WORD_DOT}|\.){_LABEL})*({_BRACKETED_DOT}|{_WORD_DOT}|\.)([\pL]{{2,6}})",
    ignore_case=True,
)
# Top-level domains of the countries the CRM serves, and the generic ones.
_WORD_FORM_TLDS = frozenset(
    {"com", "net", "org", "info", "biz", "io", "co", "eu", "de", "at", "ch", "fr", "be", "es", "uk", "ie"}
    | {"it", "nl", "lu", "pt", "pl", "se", "dk", "no", "fi", "us", "ca"}
)


def _strip_trailing(url: str) -> tuple[str, str]:
    """A URL and the sentence punctuation after it (``see https://x.y/a.``)."""
    core = url.rstrip(_TRAILING_PUNCTUATION)
    if url.endswith(")") and "(" in core:  # a bracketed path such as a wiki link keeps its ')'
        core += ")"
    return core, url[len(core) :]


def _looks_like_token(segment: str) -> bool:
    """A path segment made to be unguessable: long, letters and digits mixed, no word separators."""
    return (
        len(segment) >= _TOKEN_SEGMENT_CHARS
        and any(ch.isdigit() for ch in segment)
        and any(ch.isalpha() for ch in segment)
        and all(ch.isalnum() or ch in "-_=~" for ch in segment)
    )


def _mask_url(match: Match) -> str:
    url, trailing = _strip_trailing(match.group(0))
    head, hash_mark, fragment = url.partition("#")
    head, question_mark, query = head.partition("?")
    scheme, separator, rest = head.partition("://")
    if not separator:  # www.example.com/...
        scheme, rest = "", head
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = f"{SECRET}@{authority.rpartition('@')[2]}"
    segments = [SECRET if _looks_like_token(segment) else segment for segment in path.split("/")]
    masked = (f"{scheme}://" if separator else "") + authority + slash + "/".join(segments)
    masked += question_mark + (SECRET if query else "") + hash_mark + (SECRET if fragment else "")
    return masked + trailing


def _mask_labelled_secret(match: Match) -> str:
    return match.group(1) + SECRET


def _mask_obfuscated_email(match: Match) -> str:
    """Bracketed forms always; "name at example dot com" only with a word-form dot before a known
    top-level domain ("look at dell.com" is not an address)."""
    if match.group(1).strip().startswith(("[", "(", "{", "<")):
        return EMAIL
    if match.group(2).strip() == "." or match.group(3).lower() not in _WORD_FORM_TLDS:
        return match.group(0)
    return EMAIL


def mask_secrets(text: str) -> str:
    """URL user info, query strings, fragments and token segments; JWTs; labelled passwords.

    Each pattern runs only when the text holds a character sequence every match must hold (the
    RE2 wrapper costs ~10 microseconds a call, more than most cases' whole scan).
    """
    lower = text.lower()
    if "://" in text or "www." in lower:
        text = _URL.sub(_mask_url, text)
    if "eyJ" in text:
        text = _JWT.sub(SECRET, text)
    if any(marker in lower for marker in _SECRET_MARKERS):
        text = _LABELLED_SECRET.sub(_mask_labelled_secret, text)
    return text


def mask_emails(text: str) -> str:
    """E-mail addresses, including "name at example dot com" and its bracketed cousins."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    lower = text.lower()
    if any(marker in lower for marker in _AT_MARKERS):
        text = _OBFUSCATED_EMAIL.sub(_mask_obfuscated_email, text)
    return text
