"""PII detection and redaction: what a user sees found, what must be left alone."""

from __future__ import annotations

import base64
import json
import random
import time

import pytest

from atrium.safety.pii import PII_TYPES, PiiMatch, find_pii, redact


def found(text: str) -> list[tuple[str, str]]:
    return [(match.type, match.text) for match in find_pii(text)]


def jwt(header: dict[str, object], payload: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


GITHUB_TOKEN = "ghp_" + "Xy7aB2cD9eF1gH3iJ5kL7mN9oP1qR3sT5uV7"
OPENAI_KEY = "sk-proj-" + "Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef3Hi6Kl9No2"
ATRIUM_KEY = "atr-" + "q3Jx0sV9bN2mK8pL4rT7wY1zC6dF5gH0jA3eB8uI9oE"
PEM_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Mail jane.doe+billing@example.co.uk today.", "email", "jane.doe+billing@example.co.uk"),
        ("Schreib an jörg.müller@example.de.", "email", "jörg.müller@example.de"),
        ("“john@example.com”", "email", "john@example.com"),
        ("Call +1 (415) 555-2671 now", "phone", "+1 (415) 555-2671"),
        ("UK office: +44 20 7946 0958.", "phone", "+44 20 7946 0958"),
        ("Or +44 (0)20 7946 0958", "phone", "+44 (0)20 7946 0958"),
        ("E.164: +14155552671", "phone", "+14155552671"),
        ("US: (415) 555-2671", "phone", "(415) 555-2671"),
        ("US: 415-555-2671", "phone", "415-555-2671"),
        ("US: 415.555.2671", "phone", "415.555.2671"),
        ("London 020 7946 0958", "phone", "020 7946 0958"),
        ("mobile 07700 900123", "phone", "07700 900123"),
        ("Paris 01 23 45 67 89", "phone", "01 23 45 67 89"),
        ("Sydney (02) 9876 5432", "phone", "(02) 9876 5432"),
        ("電話は03-1234-5678です", "phone", "03-1234-5678"),
        ("Visa 4111 1111 1111 1111, exp 12/27", "payment_card", "4111 1111 1111 1111"),
        ("MC 5555-5555-5555-4444", "payment_card", "5555-5555-5555-4444"),
        ("Amex 3782 822463 10005", "payment_card", "3782 822463 10005"),
        ("card=6011111111111117;", "payment_card", "6011111111111117"),
        ("JCB 3530111333300000", "payment_card", "3530111333300000"),
        ("2-series 2223003122003222", "payment_card", "2223003122003222"),
        ("Pay to DE89 3704 0044 0532 0130 00 please", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN: GB82WEST12345698765432.", "iban", "GB82WEST12345698765432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
        ("NL91ABNA0417164300", "iban", "NL91ABNA0417164300"),
        ("Norway NO9386011117947", "iban", "NO9386011117947"),
        ("SSN 123-45-6789", "national_id", "123-45-6789"),
        ("SSN: 078 05 1120", "national_id", "078 05 1120"),
        ("NINO AB 12 34 56 C", "national_id", "AB 12 34 56 C"),
        ("NINO AB123456C.", "national_id", "AB123456C"),
        ("from 192.168.1.20 at", "ip_address", "192.168.1.20"),
        ("peer 8.8.8.8:53", "ip_address", "8.8.8.8"),
        ("v6 2001:db8::8a2e:370:7334 ok", "ip_address", "2001:db8::8a2e:370:7334"),
        (
            "full 2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "ip_address",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ),
        ("mapped ::ffff:192.0.2.1", "ip_address", "::ffff:192.0.2.1"),
        ("2001:db8::1", "ip_address", "2001:db8::1"),  # the whole text
        ("10.0.0.1", "ip_address", "10.0.0.1"),
        ("aws AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
        ("sts ASIAY34FZKBOKMUTVV7A key", "secret", "ASIAY34FZKBOKMUTVV7A"),
        (f"token {GITHUB_TOKEN}", "secret", GITHUB_TOKEN),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCD",
            "secret",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCD",
        ),
        (f"OPENAI_API_KEY is {OPENAI_KEY}", "secret", OPENAI_KEY),
        (
            "legacy sk-4fGh7Jk9Lm2Np5Qr8St1Uv3Wx6Yz0Ab2Cd5Ef8Gh1Ij4Kl7Mn",
            "secret",
            "sk-4fGh7Jk9Lm2Np5Qr8St1Uv3Wx6Yz0Ab2Cd5Ef8Gh1Ij4Kl7Mn",
        ),
        ("slack xoxb-2048-1234567890-AbCdEfGhIjKl", "secret", "xoxb-2048-1234567890-AbCdEfGhIjKl"),
        (
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            "secret",
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        ),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("rk_live_51HbQ2cK8xYz0aBcDeFgHiJk", "secret", "rk_live_51HbQ2cK8xYz0aBcDeFgHiJk"),
        (f"Atrium key {ATRIUM_KEY}.", "secret", ATRIUM_KEY),
        ("password=hunter2hunter2 and", "secret", "hunter2hunter2"),
        ('{"db_password": "S3cr3t!pass"}', "secret", "S3cr3t!pass"),
        ("client_secret: Zx9-Qw8_Er7.Ty6", "secret", "Zx9-Qw8_Er7.Ty6"),
        ("passphrase = correcthorsebatterystaple", "secret", "correcthorsebatterystaple"),
        (
            "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543",
            "secret",
            "8f14e45fceea167a5a36dedd4bea2543",
        ),
    ],
)
def test_finds_each_type(text: str, kind: str, value: str) -> None:
    assert found(text) == [(kind, value)]


def test_finds_a_jwt_whose_header_names_an_algorithm() -> None:
    token = jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "1234567890", "name": "Jane"})
    assert found(f"Authorization header had {token} in it") == [("secret", token)]


def test_finds_a_private_key_block_and_one_cut_off_before_its_end() -> None:
    assert found(f"key:\n{PEM_KEY}\nthanks") == [("secret", PEM_KEY)]
    truncated = PEM_KEY.rsplit("\n", 1)[0]
    assert found(f"{truncated}\n\nwhat is wrong with it?") == [("secret", truncated)]


@pytest.mark.parametrize(
    "text",
    [
        # numbers that are not phone numbers
        "Order 1234567890 shipped; order #98765432101 pending",
        "ts=1700000000000 epoch 1717171717 in 2024",
        "Meeting on 2024-01-15 10:30, or 15.01.2024, or 01/15/2024",
        "at 2024-06-01T12:34:56+02:00 (offset +05:30)",
        "Upgrade to v1.2.3 or 10.15.7; node 20.11.1",
        "Prices: $1,234.56, €1.299,00 and 12,000,000 units",
        "ISBN 978-3-16-148410-0",
        "lines 200-300, ports 8080-8090, ids 1000000-2000000",
        "for i in range(2000000, 3000000): x = arr[100:200]",
        "SELECT * FROM t WHERE id BETWEEN 1000000 AND 2000000",
        "phone-like range 555-0100 to 555-0199",
        "123-456-7890 is not a valid NANP number",
        "diff: @@ -12,7 +12,8 @@",
        # identifiers
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "uuid 12345678-1234-1234-1234-123456789012",
        "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        # cards: Luhn-invalid, Luhn-valid without a known issuer, too short
        "card 4111 1111 1111 1112",
        "card 4111-1111-1111-1113",
        "number 1234567812345670",
        "card 4111 1111 1111",
        # IBAN with a wrong checksum, a wrong length, an unknown country
        "IBAN DE88 3704 0044 0532 0130 00",
        "IBAN DE89 3704 0044 0532 0130 001",
        "IBAN XX89 3704 0044 0532 0130 00",
        # SSNs never issued
        "SSN 000-12-3456",
        "SSN 666-12-3456",
        "SSN 912-12-3456",
        "SSN 123-00-4567",
        "SSN 123-45-0000",
        "SSN-like 123-45.6789",
        # NINO with unused prefix or letters
        "BG 12 34 56 A, DA123456A, AB123456E",
        # not IP addresses
        "version 1.2.3, build 999.1.1.1, 256.256.256.256",
        "release v1.2.3.4, OID 1.3.6.1.4.1.311",
        "slices x[1::2], y[::2]; std::vector<int>; a::b; fe80::1",
        "time 10:30:00, mac 00:1A:2B:3C:4D:5E",
        # not secrets
        "I use sk-learn-style-pipelines-for-everything",
        "task-runner-configuration-file-name",
        "AKIA1234 is too short",
        "password: ********",
        "password: xxxxxxxxxxxx",
        "password=os.environ['DB_PASSWORD']",
        "password = getpass.getpass()",
        "api_key=settings.OPENAI_API_KEY",
        "api_key: OPENAI_API_KEY",
        "token: ${GITHUB_TOKEN}",
        'api_key="<your-api-key>"',
        "token = null; password: None",
        "max_tokens: 100000000, token_count=12345678",
        "Secret: classified",
        "Password: must be at least 8 characters",
        "if password == 'hunter2hunter2':",
        "eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxMjM0In0.abcdefghij",  # header has no "alg"
        # file names that look like addresses
        "icon@2x.png and logo@3x.webp",
        "user@localhost",
        "npm i left-pad@1.3.0",
    ],
)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert found(text) == []


def test_card_followed_by_its_security_code_is_still_found() -> None:
    assert found("card 4111 1111 1111 1111 123 thanks") == [("payment_card", "4111 1111 1111 1111")]


def test_digit_groups_inside_an_iban_are_not_a_card_or_phone() -> None:
    assert found("IBAN DE89 3704 0044 0532 0130 00") == [("iban", "DE89 3704 0044 0532 0130 00")]
    # the digits of a wrong IBAN are not reported piecemeal either
    assert found("IBAN DE88 3704 0044 0532 0130 00") == []


def test_overlaps_resolve_to_one_finding() -> None:
    text = f"api_key={OPENAI_KEY}"
    assert found(text) == [("secret", OPENAI_KEY)]
    token = jwt({"alg": "RS256"}, {"sub": "x"})
    assert found(f"Authorization: Bearer {token}") == [("secret", token)]


def test_offsets_are_character_offsets_in_non_ascii_text() -> None:
    text = "Grüße 👋 — Karte 4111 1111 1111 1111, Mail jörg@example.de, IP 10.0.0.1 ✓"
    matches = find_pii(text)
    assert [(m.type, m.text) for m in matches] == [
        ("payment_card", "4111 1111 1111 1111"),
        ("email", "jörg@example.de"),
        ("ip_address", "10.0.0.1"),
    ]
    for match in matches:
        assert text[match.start : match.end] == match.text


def test_empty_text() -> None:
    assert find_pii("") == []
    assert redact("", []) == ""


def test_only_the_asked_types_are_searched() -> None:
    text = "jane@example.com 415-555-2671"
    assert [m.type for m in find_pii(text, types=["phone"])] == ["phone"]
    with pytest.raises(ValueError, match="unknown PII types"):
        find_pii(text, types=["passport"])  # type: ignore[list-item]


SAMPLE = (
    "Hi, I'm Jane (jane.doe@example.com, +44 20 7946 0958). My card is 4111 1111 1111 1111 "
    "and my IBAN DE89 3704 0044 0532 0130 00; SSN 123-45-6789. The server at 10.20.30.40 "
    f"uses password=Tr0ub4dor&3x and {GITHUB_TOKEN}. Order 1234567890 ships on 2024-01-15."
)


def test_redaction_round_trip() -> None:
    matches = find_pii(SAMPLE)
    assert {m.type for m in matches} == set(PII_TYPES)
    redacted = redact(SAMPLE, matches)
    assert redacted == (
        "Hi, I'm Jane ([REDACTED:email], [REDACTED:phone]). My card is "
        "[REDACTED:payment_card] and my IBAN [REDACTED:iban]; SSN [REDACTED:national_id]. The "
        "server at [REDACTED:ip_address] uses password=[REDACTED:secret] and "
        "[REDACTED:secret]. Order 1234567890 ships on 2024-01-15."
    )
    for match in matches:
        assert match.text not in redacted
    assert find_pii(redacted) == []


def test_redaction_of_chosen_types_only() -> None:
    matches = find_pii(SAMPLE)
    redacted = redact(SAMPLE, matches, types=["secret", "payment_card"])
    assert "[REDACTED:payment_card]" in redacted and "[REDACTED:secret]" in redacted
    assert "jane.doe@example.com" in redacted and "DE89 3704 0044 0532 0130 00" in redacted
    assert {m.type for m in find_pii(redacted)} == set(PII_TYPES) - {"secret", "payment_card"}


def test_redaction_is_stable_whatever_the_order_of_the_matches() -> None:
    matches = find_pii(SAMPLE)
    expected = redact(SAMPLE, matches)
    shuffled = list(matches) + list(matches)  # duplicates too
    random.Random(7).shuffle(shuffled)
    assert redact(SAMPLE, shuffled) == expected
    # overlapping matches given by a caller: the more specific one is replaced, once
    text = "card 4111 1111 1111 1111"
    card = find_pii(text)[0]
    phone = PiiMatch("phone", card.start + 5, card.end, text[card.start + 5 : card.end])
    assert redact(text, [phone, card]) == "card [REDACTED:payment_card]"


def test_redacting_matches_from_another_text_is_an_error() -> None:
    matches = find_pii("mail jane@example.com")
    with pytest.raises(ValueError, match="not in this text"):
        redact("mail john@example.com", matches)


def test_pathological_input_stays_fast() -> None:
    # long runs that look like the start of something, with nothing to find
    texts = [
        "a" * 50_000 + "b",
        "1" * 50_000,
        "1-" * 25_000,
        ":" * 50_000,
        "a." * 25_000 + "@",
        "password=" * 5_000,
        "4111 " * 10_000,
        "0 " * 25_000,
        # a JWT-shaped token whose header is JSON nested 100,000 deep
        base64.urlsafe_b64encode(b'{"a":' + b"[" * 100_000).decode().rstrip("=") + ".eyJ9.x",
    ]
    for text in texts:
        started = time.perf_counter()
        find_pii(text)
        assert time.perf_counter() - started < 2.0, text[:20]


def test_benchmark_2000_characters(capsys: pytest.CaptureFixture[str]) -> None:
    text = (SAMPLE + " Nothing else to see here, just some prose about v1.2.3 builds. ") * 12
    text = text[:2000]
    find_pii(text)
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        matches = find_pii(text)
    elapsed = (time.perf_counter() - started) / runs
    with capsys.disabled():
        print(f"\nfind_pii: {elapsed * 1e6:.0f} µs for 2,000 characters, {len(matches)} found")
    assert matches
