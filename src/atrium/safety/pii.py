"""Personal data and secrets in text: find them, and replace them by placeholders.

``find_pii`` reports typed spans (``email``, ``phone``, ``payment_card``, ``iban``,
``national_id``, ``ip_address``, ``secret``); ``redact`` replaces chosen ones by
``[REDACTED:<type>]``. No model and nothing downloaded: each type is a precompiled RE2
pattern (linear time, whatever the text) that proposes candidates, and a check in Python that
keeps only what validates. Checksums where the format has one (Luhn for cards, mod-97 for
IBANs), the ``ipaddress`` module for addresses, the issued ranges for US SSNs, the decoded
header for JWTs.

What is deliberately *not* reported:

- Bare digit runs as phone numbers (order ids, timestamps): a phone number needs a leading
  ``+``, or separators in one of the common national layouts (NANP ``(415) 555-2671``,
  trunk-zero ``020 7946 0958``).
- Digit groups glued to more digits by ``.``/``-`` (``1.3.6.1.4.1``, the digit groups of a
  UUID), and digits glued to letters (``v1.2.3.4``, hex SHAs).
- IPv6 written with fewer than three colons (``fe80::1``, ``::1``): that shape is mostly
  slices and scope paths in code (``x[1::2]``, ``a::b``).
- Secret assignments whose value looks like code rather than a literal (``os.environ[...]``,
  ``settings.TOKEN``, ``$VAR``, ``OPENAI_API_KEY``) or like a placeholder (``********``).

Overlapping candidates are resolved once: the more specific type wins (secret, then the
checksummed card and IBAN, then national id, email and IP address, then phone), then the
longer span, then the earlier one.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import re2

PiiType = Literal["email", "phone", "payment_card", "iban", "national_id", "ip_address", "secret"]
PII_TYPES: tuple[PiiType, ...] = get_args(PiiType)


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One finding: its type, its span in the text (``text[start:end]``) and that text."""

    type: PiiType
    start: int
    end: int
    text: str


# More specific types win overlaps (see the module docstring).
_SPECIFICITY: dict[PiiType, int] = {
    "secret": 3,
    "payment_card": 2,
    "iban": 2,
    "national_id": 1,
    "email": 1,
    "ip_address": 1,
    "phone": 0,
}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


# Scanning works on the UTF-8 bytes of the text (RE2's own encoding: searching from an
# offset costs nothing more), and the checks on ``view``, those bytes decoded as Latin-1: a
# str whose indexes are the byte offsets. In ``view`` every non-ASCII character is two to
# four characters from U+0080-U+00FF, none of them an ASCII letter, digit or separator, so
# the checks below (ASCII only, like RE2's \b) read it as they would the text.
#
# A check gets ``view`` and a candidate span and returns the span to report (the same, a
# shorter one, or None).
Span = tuple[int, int]
Check = Callable[[str, int, int], Span | None]

_DIGIT = frozenset("0123456789")
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _scan(pattern: Any, data: bytes, view: str, check: Check, group: int = 0) -> Iterator[Span]:
    """Candidates of ``pattern`` that pass ``check``. After a rejected candidate the search
    goes on from the character after its start, so a valid span inside it is still found."""
    pos = 0
    while pos <= len(data):
        found = pattern.search(data, pos)
        if found is None:
            return
        start: int
        end: int
        start, end = found.span(group)
        span = check(view, start, end)
        if span is not None and not _glued_to_letters(view, *span):
            yield span
        pos = max(span[1] if span is not None else 0, found.start() + 1)
        while pos < len(data) and data[pos] & 0xC0 == 0x80:  # inside a UTF-8 sequence
            pos += 1


def _char(text: str, index: int) -> str:
    """The character at ``index``; a space outside the text (its edges separate like one)."""
    return text[index] if 0 <= index < len(text) else " "


def _word_char(char: str) -> bool:
    return char in _WORD


def _decoded(view: str, start: int, end: int) -> str:
    return view[start:end].encode("latin-1").decode("utf-8", errors="replace")


def _spaced_script(char: str) -> bool:
    """A letter or digit of a script that separates words with spaces (not Chinese,
    Japanese, Thai...: "電話は03-1234-5678です" holds a phone number)."""
    if len(char) != 1:
        return False
    code = ord(char)
    return (
        char.isalnum()
        and code < 0x2E80
        and not (0x0E00 <= code <= 0x0EFF or 0x1000 <= code <= 0x109F or 0x1780 <= code <= 0x17FF)
    )


def _glued_to_letters(view: str, start: int, end: int) -> bool:
    """A span that begins or ends with a word character next to a non-ASCII letter or digit
    ("jörg@example.de" holds no address "rg@example.de"). RE2's \b only knows ASCII."""
    if start > 0 and ord(view[start - 1]) >= 0x80 and view[start] in _WORD:
        lead = start - 1
        while lead > 0 and 0x80 <= ord(view[lead]) < 0xC0:
            lead -= 1
        if _spaced_script(_decoded(view, lead, start)):
            return True
    if end < len(view) and ord(view[end]) >= 0x80 and view[end - 1] in _WORD:
        stop = end + 1
        while stop < len(view) and 0x80 <= ord(view[stop]) < 0xC0:
            stop += 1
        if _spaced_script(_decoded(view, end, stop)):
            return True
    return False


def _glued_digits(text: str, start: int, end: int, lead: str = ".-") -> bool:
    """The span is part of a longer run of digit groups (``1.2.3.4.5``, a UUID): a digit
    and one of ``lead`` just before it, or ``.``/``-`` and a digit just after it."""
    before = _char(text, start - 1) in lead and _char(text, start - 2) in _DIGIT
    after = _char(text, end) in ".-" and _char(text, end + 1) in _DIGIT
    return before or after


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch in _DIGIT)


def _group_sizes(value: str) -> list[int]:
    """The lengths of the runs of digits in ``value``."""
    sizes: list[int] = []
    run = 0
    for char in value:
        if char in _DIGIT:
            run += 1
        elif run:
            sizes.append(run)
            run = 0
    if run:
        sizes.append(run)
    return sizes


def _group_ends(text: str, start: int, end: int, separators: str) -> list[int]:
    """Ends of the span and of each of its shorter prefixes made of whole digit groups,
    longest first."""
    ends = [end]
    for index in range(end - 1, start, -1):
        if text[index] in separators and text[index - 1] in _DIGIT:
            ends.append(index)
    return ends


# --- email ----------------------------------------------------------------------------------

# The local part may hold any letters (jörg@example.de; non-ASCII punctuation before it,
# like a quotation mark, is cut off by the check: \pL would make the automaton ten times
# slower); the domain is ASCII (IDNA).

_EMAIL = _compile(
    r"[A-Za-z0-9\x{80}-\x{10FFFF}][A-Za-z0-9._%+\-\x{80}-\x{10FFFF}]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b"
)
# "icon@2x.png" is a retina image, not an address.
_FILE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic"}
)


def _check_email(text: str, start: int, end: int) -> Span | None:
    at = text.index("@", start, end)
    local = _decoded(text, start, at)
    for index in range(len(local) - 1, -1, -1):
        if not (local[index].isalnum() or local[index] in "._%+-"):
            start = at - len(local[index + 1 :].encode("utf-8"))
            local = local[index + 1 :]
            break
    domain = text[at + 1 : end]
    if not local or not local[0].isalnum() or ".." in local or local.endswith("."):
        return None
    if _word_char(_char(text, start - 1)):
        return None
    if domain.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS:
        return None
    return start, end


# --- phone ----------------------------------------------------------------------------------

_PHONE_SEPARATORS = " .-"
# +<country code> then digit groups; "(0)" and "(415)" allowed. E.164: at most 15 digits.
_PHONE_INTERNATIONAL = _compile(
    r"\B\+[1-9][0-9]{0,3}(?:(?:[ .\-]?\([0-9]{1,4}\))?[ .\-]?[0-9]{1,6}){1,7}\b"
)
# North American Numbering Plan: area code and exchange start with 2-9.
_PHONE_NANP = _compile(
    r"(?:\b1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ ]?|\b[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}\b"
)
# National numbers with a trunk 0 (most of Europe, Asia, Oceania): 020 7946 0958,
# 01 23 45 67 89, (02) 9876 5432, 090-1234-5678.
_PHONE_TRUNK = _compile(
    r"(?:\(0[1-9][0-9]{0,3}\)[ ]?|\b0[1-9][0-9]{0,3}[ .\-])[0-9]{2,8}(?:[ .\-][0-9]{2,8}){0,3}\b"
)


def _check_phone_international(text: str, start: int, end: int) -> Span | None:
    if _glued_digits(text, start, end):
        return None
    for stop in _group_ends(text, start, end, _PHONE_SEPARATORS):
        value = text[start:stop].replace("(0)", "")
        if 8 <= len(_digits(value)) <= 15:
            return start, stop
    return None


def _check_phone_nanp(text: str, start: int, end: int) -> Span | None:
    if _glued_digits(text, start, end, ".- "):
        return None
    return start, end


def _check_phone_trunk(text: str, start: int, end: int) -> Span | None:
    if _glued_digits(text, start, end, ".- "):
        return None
    for stop in _group_ends(text, start, end, _PHONE_SEPARATORS):
        value = text[start:stop]
        body = value.split(")", 1)[1] if value.startswith("(") else value
        separators = {ch for ch in body if ch in _PHONE_SEPARATORS}
        groups = _group_sizes(value)
        if (
            len(separators) <= 1
            and 9 <= len(_digits(value)) <= 11
            and groups != [3, 2, 4]  # the layout of a US SSN
        ):
            return start, stop
    return None


# --- payment card ---------------------------------------------------------------------------

_CARD = _compile(r"\b[0-9](?:[ \-]?[0-9]){12,18}\b")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# (first digits low, high, allowed lengths): issuer identification numbers of the major
# networks.
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, frozenset({16, 17, 18, 19})),
    (65, 65, frozenset({16, 17, 18, 19})),
    (300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, frozenset({16, 17, 18, 19})),
    (3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (2200, 2204, frozenset({16, 17, 18, 19})),  # Mir
    (50, 50, frozenset({13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (56, 58, frozenset({13, 14, 15, 16, 17, 18, 19})),
    (6304, 6304, frozenset({13, 14, 15, 16, 17, 18, 19})),
    (67, 67, frozenset({13, 14, 15, 16, 17, 18, 19})),
)


def _known_issuer(digits: str) -> bool:
    for low, high, lengths in _CARD_RANGES:
        prefix = int(digits[: len(str(low))])
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def _card_layout_ok(value: str) -> bool:
    """No separators, or one kind of separator between the usual groups: 4-4-4-4(-3),
    4-4-4-n, 4-6-5 (Amex), 4-6-4 (Diners)."""
    separators = {ch for ch in value if ch not in _DIGIT}
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = [len(part) for part in value.split(separators.pop())]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return len(groups) >= 4 and all(size == 4 for size in groups[:-1]) and groups[-1] <= 4


def _check_card(text: str, start: int, end: int) -> Span | None:
    if _glued_digits(text, start, end, ".- "):
        return None
    for stop in _group_ends(text, start, end, " -"):
        value = text[start:stop]
        digits = _digits(value)
        if (
            13 <= len(digits) <= 19
            and _card_layout_ok(value)
            and _known_issuer(digits)
            and _luhn_ok(digits)
        ):
            return start, stop
    return None


# --- IBAN -----------------------------------------------------------------------------------

_IBAN = _compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b")
# Lengths (characters, no spaces) per country, from the IBAN registry.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20,
    "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18,
    "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def _mod97_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _check_iban(text: str, start: int, end: int) -> Span | None:
    length = _IBAN_LENGTHS.get(text[start : start + 2])
    if length is None:
        return None
    compact: list[str] = []
    stop = start
    while stop < end and len(compact) < length:
        if text[stop] != " ":
            compact.append(text[stop])
        stop += 1
    if len(compact) < length or _word_char(_char(text, stop)):
        return None
    value = text[start:stop]
    if " " in value and any(len(part) != 4 for part in value.split(" ")[:-1]):
        return None  # spaced, but not in the printed groups of four
    return (start, stop) if _mod97_ok("".join(compact)) else None


# --- national ids ---------------------------------------------------------------------------

_SSN = _compile(r"\b[0-9]{3}[ \-][0-9]{2}[ \-][0-9]{4}\b")
_NINO = _compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b")
_NINO_UNUSED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _check_ssn(text: str, start: int, end: int) -> Span | None:
    value = text[start:end]
    if value[3] != value[6] or _glued_digits(text, start, end, ".- "):
        return None
    area, group, serial = value[0:3], value[4:6], value[7:11]
    if area in {"000", "666"} or area[0] == "9" or group == "00" or serial == "0000":
        return None
    return start, end


def _check_nino(text: str, start: int, end: int) -> Span | None:
    value = text[start:end]
    if value[:2] in _NINO_UNUSED_PREFIXES:
        return None
    spaces = value.count(" ")
    return (start, end) if spaces in (0, 4) else None


# --- IP addresses ---------------------------------------------------------------------------

_IPV4 = _compile(r"\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b")
_IPV6 = _compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){3,8}(?:\.[0-9]{1,3}){0,3}")


def _check_ipv4(text: str, start: int, end: int) -> Span | None:
    if _glued_digits(text, start, end):
        return None
    try:
        ipaddress.IPv4Address(text[start:end])
    except ValueError:
        return None
    return start, end


def _check_ipv6(text: str, start: int, end: int) -> Span | None:
    before = _char(text, start - 1)
    if _word_char(before) or before in ":." or _word_char(_char(text, end)):
        return None
    for stop in (end, end - 1):
        value = text[start:stop]
        if value.count(":") < 3:
            return None
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            if not value.endswith(":"):
                return None
            continue
        return start, stop
    return None


# --- secrets --------------------------------------------------------------------------------

_TOKEN_CHARS = "A-Za-z0-9_\\-"
# Fixed-shape keys: the pattern is the check.
_SECRET_SHAPES = _compile(
    "|".join(
        (
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
            r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b",  # GitHub fine-grained tokens
            r"\bxox[abprs]-[A-Za-z0-9\-]{10,250}",  # Slack
            r"\bAIza[0-9A-Za-z_\-]{35}",  # Google API key
            r"\b[rs]k_live_[0-9A-Za-z]{16,250}\b",  # Stripe live keys
            rf"\batr-[{_TOKEN_CHARS}]{{43}}",  # Atrium API keys
        )
    )
)
_OPENAI_KEY = _compile(rf"\bsk-(?:proj-|svcacct-|admin-)?[{_TOKEN_CHARS}]{{20,250}}")
_JWT = _compile(rf"\beyJ[{_TOKEN_CHARS}]{{4,}}\.[{_TOKEN_CHARS}]{{4,}}\.[{_TOKEN_CHARS}]*")
_PEM_PRIVATE_KEY = _compile(
    r"-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----"
    r"(?:(?s:.*?)-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:\s+[A-Za-z0-9+/]{16,}={0,2})+)"  # a block cut off before its END line
)
_SECRET_NAMES = (
    r"password|passwd|passphrase|pwd|secret|api[_\-]?key|apikey|access[_\-]?key|"
    r"secret[_\-]?key|private[_\-]?key|client[_\-]?secret|token|auth[_\-]?token|"
    r"access[_\-]?token|refresh[_\-]?token"
)
_VALUE = r"[^\s\"'`,;(){}\[\]<>]"
_SECRET_ASSIGNMENT = _compile(
    rf"(?i)\b(?:[a-z0-9]+[_\-])*(?:{_SECRET_NAMES})[\"']?\s*[:=]\s*[\"']?({_VALUE}{{8,}})"
)
_BEARER = _compile(
    r"(?i)(?:\bbearer\s+|\bauthorization[\"']?\s*[:=]\s*[\"']?basic\s+)([A-Za-z0-9._~+/\-]{16,}=*)"
)
_PLACEHOLDERS = frozenset(
    {"none", "null", "nil", "true", "false", "undefined", "required", "optional", "changeme"}
)
_CODE_PATH = re2.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+", _OPTIONS)
_ENV_NAME = re2.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", _OPTIONS)


def _followed_by_token_char(text: str, end: int) -> bool:
    char = _char(text, end)
    return _word_char(char) or char == "-"


def _check_shape(text: str, start: int, end: int) -> Span | None:
    return None if _followed_by_token_char(text, end) else (start, end)


def _check_openai_key(text: str, start: int, end: int) -> Span | None:
    body = text[start:end].split("-", 1)[1]
    mixed = (
        any(ch.isupper() for ch in body)
        and any(ch.islower() for ch in body)
        and any(ch.isdigit() for ch in body)
    )
    return (start, end) if mixed else None  # "sk-learn-style-words" has no digits or caps


def _check_jwt(text: str, start: int, end: int) -> Span | None:
    header = text[start:end].split(".", 1)[0]
    if len(header) > 2048:  # real headers are a few dozen characters
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return (start, end) if isinstance(decoded, dict) and "alg" in decoded else None


def _accept(text: str, start: int, end: int) -> Span | None:
    return start, end


def _placeholder(value: str) -> bool:
    """********, xxxxxxxx, <your-api-key>, null."""
    lowered = value.lower()
    return len(set(value)) == 1 or "your" in lowered or lowered in _PLACEHOLDERS


def _check_bearer(text: str, start: int, end: int) -> Span | None:
    value = text[start:end]
    if _placeholder(value) or not any(ch in _DIGIT for ch in value):
        return None
    return start, end


def _check_assigned_value(text: str, start: int, end: int) -> Span | None:
    value = _decoded(text, start, end)
    if _char(text, end) in "([" or value[0] in "$%&@*#" or _placeholder(value):
        return None  # a call, an index, a variable, a placeholder
    if _CODE_PATH.fullmatch(value) is not None or _ENV_NAME.fullmatch(value) is not None:
        return None  # settings.API_KEY, OPENAI_API_KEY
    if value.isalpha() and len(value) < 16:
        return None  # "Secret: classified" is prose; long passphrases still count
    return start, end


# --- all together ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Detector:
    type: PiiType
    pattern: Any
    check: Check
    group: int = 0  # the capture group that is the finding (0: the whole match)
    needs: str = ""  # a character every match contains: without it, skip the scan


_DETECTORS: tuple[_Detector, ...] = (
    _Detector("email", _EMAIL, _check_email, needs="@"),
    _Detector("phone", _PHONE_INTERNATIONAL, _check_phone_international, needs="+"),
    _Detector("phone", _PHONE_NANP, _check_phone_nanp),
    _Detector("phone", _PHONE_TRUNK, _check_phone_trunk, needs="0"),
    _Detector("payment_card", _CARD, _check_card),
    _Detector("iban", _IBAN, _check_iban),
    _Detector("national_id", _SSN, _check_ssn),
    _Detector("national_id", _NINO, _check_nino),
    _Detector("ip_address", _IPV4, _check_ipv4, needs="."),
    _Detector("ip_address", _IPV6, _check_ipv6, needs=":"),
    _Detector("secret", _SECRET_SHAPES, _check_shape),
    _Detector("secret", _OPENAI_KEY, _check_openai_key, needs="-"),
    _Detector("secret", _JWT, _check_jwt, needs="."),
    _Detector("secret", _PEM_PRIVATE_KEY, _accept, needs="-"),
    _Detector("secret", _SECRET_ASSIGNMENT, _check_assigned_value, group=1),
    _Detector("secret", _BEARER, _check_bearer, group=1),
)


def _check_types(types: Collection[str]) -> None:
    unknown = sorted(set(types) - set(PII_TYPES))
    if unknown:
        raise ValueError(f"unknown PII types {unknown}; known: {list(PII_TYPES)}")


def _resolve(matches: Collection[PiiMatch]) -> list[PiiMatch]:
    """Non-overlapping matches: the most specific, then the longest, then the earliest wins."""
    ranked = sorted(
        set(matches),
        key=lambda m: (-_SPECIFICITY[m.type], m.start - m.end, m.start, m.type),
    )
    kept: list[PiiMatch] = []  # sorted by start, never overlapping
    starts: list[int] = []
    for match in ranked:
        index = bisect.bisect_left(starts, match.start)
        if index > 0 and kept[index - 1].end > match.start:
            continue
        if index < len(kept) and kept[index].start < match.end:
            continue
        kept.insert(index, match)
        starts.insert(index, match.start)
    return kept


def find_pii(text: str, types: Collection[PiiType] | None = None) -> list[PiiMatch]:
    """Every PII finding in ``text`` (of ``types``, default all), non-overlapping, in order."""
    if types is not None:
        _check_types(types)
    wanted = set(PII_TYPES if types is None else types)
    data = text.encode("utf-8")
    view = data.decode("latin-1")
    spans: list[tuple[PiiType, int, int]] = []
    for detector in _DETECTORS:
        if detector.type not in wanted or (detector.needs and detector.needs not in text):
            continue
        for start, end in _scan(detector.pattern, data, view, detector.check, detector.group):
            spans.append((detector.type, start, end))
    if len(data) == len(text):  # ASCII: byte offsets are character offsets
        return _resolve([PiiMatch(kind, start, end, text[start:end]) for kind, start, end in spans])
    offsets = _char_offsets(data, {offset for _, start, end in spans for offset in (start, end)})
    return _resolve(
        [
            PiiMatch(kind, offsets[start], offsets[end], text[offsets[start] : offsets[end]])
            for kind, start, end in spans
        ]
    )


def _char_offsets(data: bytes, byte_offsets: Collection[int]) -> dict[int, int]:
    """The character offset of each byte offset (each at a character boundary), in one pass."""
    result: dict[int, int] = {}
    chars = 0
    previous = 0
    for offset in sorted(byte_offsets):
        chars += len(data[previous:offset].decode("utf-8"))
        result[offset] = chars
        previous = offset
    return result


def redact(
    text: str, matches: Collection[PiiMatch], types: Collection[PiiType] | None = None
) -> str:
    """``text`` with each match (of ``types``, default all) replaced by
    ``[REDACTED:<type>]``. Overlapping matches are resolved as ``find_pii`` does, so the
    result does not depend on their order. A match that is not in ``text`` at its span is an
    error, never a silent miss."""
    if types is not None:
        _check_types(types)
    selected = [m for m in matches if types is None or m.type in types]
    for match in selected:
        if text[match.start : match.end] != match.text:
            raise ValueError(f"{match.type} match at {match.start}:{match.end} is not in this text")
    parts: list[str] = []
    position = 0
    for match in _resolve(selected):
        parts.append(text[position : match.start])
        parts.append(f"[REDACTED:{match.type}]")
        position = match.end
    parts.append(text[position:])
    return "".join(parts)
