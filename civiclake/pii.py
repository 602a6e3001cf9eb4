"""Personal data minimised at the edge: keyed HMAC tokens and ID-number checks.

Tokens are deterministic for one key (the same resident gets the same token in every
table, so counts of distinct people still work) and cannot be reversed without the key.
Each kind of value has its own domain so that a phone number and an ID number that
happen to share digits never share a token. A value already in its kind's token form is
kept as it is: a source that tokenises at its own edge (the intake API) stores tokens, and
the ingest that tokenises every source must not turn them into tokens of tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TOKEN_KINDS = ("id_number", "phone", "name")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
_MOBILE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
# What tokenise returns for each kind: the kind's prefix and 32 lower-case hex digits.
_TOKEN_FORMS = {kind: re.compile(rf"^{kind.split('_')[0]}_[0-9a-f]{{32}}$") for kind in TOKEN_KINDS}
# Personal numbers as residents type them into free text: an ID number (18 characters,
# a check character that may be wrong: a mistyped ID is still someone's), a mobile
# number (spaces or dashes between its groups allowed), a landline with its area code.
# Not part of a longer run of digits or letters, nor a decimal's fraction (coordinates).
# ASCII edges: Chinese characters right next to a number are the usual case.
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![0-9A-Za-z.])", r"(?![0-9A-Za-z])"
_IN_TEXT = (
    ("id_number", re.compile(_EDGE_BEFORE + r"\d{17}[\dXx]" + _EDGE_AFTER)),
    ("phone", re.compile(_EDGE_BEFORE + r"(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}" + _EDGE_AFTER)),
    ("phone", re.compile(_EDGE_BEFORE + r"0\d{2,3}[ -]?\d{7,8}" + _EDGE_AFTER)),
)


def tokenise(value: str | None, kind: str, key: bytes) -> str | None:
    """HMAC-SHA256 token of a normalised value, e.g. ``id_3f2a…`` (None stays None); a value
    already in this kind's token form is returned unchanged."""
    if kind not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {kind!r}; expected one of {TOKEN_KINDS}")
    if value is None:
        return None
    if is_token(value, kind):
        return value
    normalised = "".join(str(value).split()).upper()
    if not normalised:
        return None
    digest = hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
    return f"{kind.split('_')[0]}_{digest[:32]}"


def is_token(value: str | None, kind: str) -> bool:
    """True when ``value`` has the form ``tokenise`` gives values of ``kind`` (``phone_<32 hex>``)."""
    return isinstance(value, str) and bool(_TOKEN_FORMS[kind].match(value))


def scrub_text(text: str | None, key: bytes) -> str | None:
    """Free text with every ID, mobile and landline number in it replaced by its token in
    brackets (``请回电 13800138000`` -> ``请回电 [phone_…]``). A number gets the token its
    own column would give it (digits only, without +86), so a case's text and its
    reporter's phone column still match."""
    if text is None:
        return None
    for kind, pattern in _IN_TEXT:
        text = pattern.sub(lambda m, kind=kind: f"[{tokenise(_digits(m.group(), kind), kind, key)}]", text)
    return text


def personal_numbers_in(text: str | None) -> list[str]:
    """The ID, mobile and landline numbers written in ``text``, as scrub_text finds them:
    what a scan of stored text reports when a raw number got past the edge."""
    if not text:
        return []
    return [match.group() for _, pattern in _IN_TEXT for match in pattern.finditer(text)]


def _digits(number: str, kind: str) -> str:
    compact = re.sub(r"[ +-]", "", number)
    return compact[2:] if kind == "phone" and compact.startswith("86") and len(compact) == 13 else compact


def id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def is_valid_id_number(value: str | None) -> bool:
    """True for an 18-character resident ID number whose check character is right."""
    if value is None:
        return False
    value = value.strip().upper()
    return bool(_ID_PATTERN.match(value)) and id_check_char(value[:17]) == value[17]


def is_valid_mobile(value: str | None) -> bool:
    return value is not None and bool(_MOBILE_PATTERN.match(value.strip()))
