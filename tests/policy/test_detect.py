"""The secret pre-filter (``_detect.suspects``): it may pick too many values, never too few.

The built-in secret policies decode only the values ``suspects`` picks out of one scan of the whole plan;
a value it misses is a secret the gate never sees. So the contract is checked against a reference that
decodes and walks every value, on generated values in every JSON layout and on every real fixture plan.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from testsupport import PLANS

from tfkit.plan import format_path, load_plan
from tfkit.policy import _detect, builtin
from tfkit.policy._detect import Packed, suspects


def suspicious(raw: bytes, sensitive_raw: bytes = b"false", unknown_raw: bytes = b"false") -> bool:
    """``suspects`` for one value."""
    return bool(suspects(Packed([raw]), [sensitive_raw], [unknown_raw]))


AWS_KEY = "AKIA" + "Q3EGRIGHTNOWXMPL"  # a made-up key id in the AWS format (split so scanners stay calm)
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-" + "1234567890-abcdefghij"
GITLAB = "glpat-" + "Ab-Cd-Ef-Gh-Ij-Kl-Mn-Op"
GOOGLE = "AIza" + "SyD-aGmWKa4Js-XZ-HjGw7ISLn-3namBGewQe"
TEXTS = [
    "",
    "x",
    "bench",
    "my-secret-name",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
    "https://example.com/path",
    "https://user:hunter2@example.com/",
    "Managed by Terraform",
    "0123456789abcdef0123456789abcdef",
    "kP9xQ2mZ7vL4nR8tW1yB6cF3",
    "a/b/c/d/e/f/g/h/i/j/k/l/m/n",
    AWS_KEY,
    GITHUB,
    SLACK,
    GITLAB,
    GOOGLE,
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n",
]
KEYS = [
    "name",
    "tags",
    "input",
    "triggers_replace",
    "password",
    "db_password",
    "Password",
    "DB_PASSWORD",
    "secret",
    "client_secret",
    "api_token",
    "token_validity",
    "private_key",
    "apiKey",
    "a,secret",
    "DB_PASSWORD,",
    "description",
    "url",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(TEXTS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)


def _mask_for(value: Any, rng: random.Random) -> Any:
    """A sensitivity mask shaped like ``value`` with random leaves (and sometimes whole subtrees) true."""
    roll = rng.random()
    if roll < 0.1:
        return True
    if isinstance(value, dict):
        out = {k: _mask_for(v, rng) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not False}
    if isinstance(value, list):
        return [_mask_for(v, rng) for v in value]
    return roll < 0.4


def _unknowns_of(value: Any, rng: random.Random) -> tuple[Any, Any]:
    """``value`` as Terraform writes ``after``, with some attributes unknown until apply: left out of it,
    and marked in the second result (``after_unknown``). The mask is made from the whole value, so it still
    marks the sensitive ones, as Terraform's does.
    """
    if not isinstance(value, dict):
        return value, False
    after: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, item in value.items():
        if rng.random() < 0.15:
            unknown[key] = True
            continue
        after[key], unknown_item = _unknowns_of(item, rng)
        if unknown_item is not False:
            unknown[key] = unknown_item
    return after, unknown or False


def _must_pick(value: Any, mask: Any) -> bool:
    """Reference: decode and walk the value as the secret policies do, honouring the mask by path."""
    return any(builtin._candidate(key, text) for _path, key, text in _detect.walk_strings(value, mask))


def _escape_letters(text: str) -> str:
    """JSON with some letters of every string (keys too) written as \\u escapes: the same value."""
    return re.sub(
        r'"(?:[^"\\]|\\.)*"',
        lambda m: re.sub(r"(?<!\\)[aeioKs:/@-]", lambda c: f"\\u{ord(c[0]):04x}", m[0]),
        text,
    )


LAYOUTS = {
    "compact (Terraform)": lambda v: json.dumps(v, separators=(",", ":")),
    "json.dumps default": json.dumps,
    "indented": lambda v: json.dumps(v, indent=2),
    "space before colons": lambda v: json.dumps(v, separators=(" , ", " : ")),
    "escaped slashes": lambda v: json.dumps(v, separators=(",", ":")).replace("/", "\\/"),
    "escaped letters": lambda v: _escape_letters(json.dumps(v, separators=(",", ":"))),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@settings(
    # 150 examples per layout under the fixed profile (CI); the random profile's count when it is higher
    max_examples=max(150, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(values=st.lists(records, min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1))
@example(  # found by the fixed-seed profile: the mask's mark of apiKey is under tags, which is unknown
    values=[
        {},
        {
            "name": None,
            "tags": None,
            "input": {
                "name": None,
                "tags": None,
                "input": {"name": None, "tags": None},
                "triggers_replace": {"name": None, "tags": None, "input": None, "triggers_replace": None},
            },
            "triggers_replace": [None, [None, None, None]],
        },
        {
            "name": [None, [None], [None, None, None]],
            "tags": {"a,secret": None, "apiKey": None, "name": None, "tags": None},
            "input": None,
            "apiKey": "",
        },
    ],
    seed=0,
)
def test_every_value_the_policies_would_flag_is_a_suspect(layout: str, values: list[Any], seed: int) -> None:
    rng = random.Random(seed)
    masks = [_mask_for(v, rng) for v in values]
    afters, unknowns = zip(*(_unknowns_of(v, rng) for v in values), strict=True)
    encode = LAYOUTS[layout]
    texts = [[encode(x).encode() for x in column] for column in (afters, masks, unknowns)]
    picked = set(suspects(Packed(texts[0]), texts[1], texts[2]))
    needed = {i for i, (v, m) in enumerate(zip(afters, masks, strict=True)) if _must_pick(v, m)}
    assert needed <= picked


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("text", TEXTS)
def test_each_text_alone_is_a_suspect_if_the_policies_would_flag_it(layout: str, text: str) -> None:
    encode = LAYOUTS[layout]
    for value in ({"description": text}, {"list": ["x", text]}, text):
        if _must_pick(value, False):
            assert suspects(Packed([encode(value).encode()]), [b"false"]) == [0]


def test_a_url_password_is_found_with_escaped_slashes_and_quotes() -> None:
    assert suspicious(b'{"u":"https:\\/\\/user:hunter2@example.com\\/"}')
    assert suspicious(b'{"u":"https://us\\"er:pass@host.example"}')
    assert suspicious(b'{"u":"https://user:hunter2@example.com/"}')
    assert not suspicious(b'{"u":"https://example.com/a:b@c"}')
    assert not suspicious(b'{"u":"https://user:@example.com/"}')


def test_a_private_key_header_alone_is_a_suspect() -> None:
    assert suspicious(b'{"pem":"-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n"}')


def test_a_key_in_the_clear_beside_the_same_key_masked_elsewhere_is_a_suspect() -> None:
    value = b'{"a":{"password":"x"},"b":{"password":"y"}}'
    assert suspicious(value, b'{"a":{"password":true}}')
    assert not suspicious(value, b'{"a":{"password":true},"b":{"password":true}}')
    # A sensitive password known only after apply is left out of `after` but still marked in the mask:
    # that mark does not cover the clear one.
    assert suspicious(b'{"db":{"password":"c"}}', b'{"password":true,"db":{}}', b'{"password":true}')
    assert not suspicious(b'{"db":{"password":"c"}}', b'{"password":true,"db":{"password":true}}', b"{}")


@pytest.mark.parametrize("layout", list(LAYOUTS))
@given(
    key=st.sampled_from([k for k in KEYS if _detect.is_secret_key_name(k)]),
    path=st.lists(st.sampled_from(["db", "tags", "input"]), min_size=1, max_size=3),
    rest=records,
    seed=st.integers(0, 2**32 - 1),
)
def test_a_sensitive_key_known_after_apply_does_not_cover_a_clear_one(
    layout: str, key: str, path: list[str], rest: dict[str, Any], seed: int
) -> None:
    clear: Any = {key: "in-the-clear"}
    for step in reversed(path):
        clear = {step: clear}
    whole = {**rest, **clear, key: "sensitive, known after apply"}
    mask = _mask_for(whole, random.Random(seed))
    mask = {**(mask if isinstance(mask, dict) else {}), key: True}
    after = {k: v for k, v in whole.items() if k != key}
    encode = LAYOUTS[layout]
    if _must_pick(after, mask):
        texts = [encode(x).encode() for x in (after, mask, {key: True})]
        assert suspects(Packed([texts[0]]), [texts[1]], [texts[2]]) == [0]


def test_a_key_spelled_with_an_escaped_quote_is_found() -> None:
    assert suspicious(b'{"password_\\"y":"x"}')
    assert suspicious(b'{"n":1,"password_\\"y":"x"}', b'{"password":true}')


def test_runs_of_equal_masks_do_not_hide_a_value_that_spells_the_key_otherwise() -> None:
    mask = b'{"db.password":true,"x":{}}'
    values = [b'{"db\\u002epassword":"s","x":{}}', b'{"db.password":"s","x":{"db.password":"c"}}']
    assert 1 in suspects(Packed(values), [mask, mask])


def test_escapes_of_meaningful_characters_make_suspects() -> None:
    assert suspicious(b'{"k":"AKIAQ3EGRIGHTNO\\u0057XMPL"}')
    assert suspicious(b'{"k":"-----BEGIN RSA PRIVATE\\u0020KEY-----"}')
    assert suspicious(b'{"k":"\\u0078oxb-1234567890-abcdefghij"}')
    assert suspicious(b'{"pass\\u0077ord":"x"}')
    assert not suspicious(b'{"k":"a \\u003c b \\u0026 c"}')  # Terraform's own escapes of <, >, &


def test_masked_credential_keys_are_not_suspects_and_unmasked_ones_are() -> None:
    compact = [b'{"name":"a","password":"x"}', b'{"name":"b","password":"y"}', b'{"name":"c","password":"z"}']
    masked = b'{"password":true}'
    assert suspects(Packed(compact), [masked, masked, masked]) == []
    assert suspects(Packed(compact), [masked, b"{}", masked]) == [1]
    assert suspects(Packed(compact), [masked, masked, b"false"]) == [2]
    assert suspects(Packed(compact), [b"true"] * 3) == []


def test_a_key_masked_in_one_spelling_does_not_cover_another() -> None:
    value = b'{"Password":"x","password":"y"}'
    assert suspicious(value, b'{"Password":true,"password":true}') is False
    assert suspicious(value, b'{"Password":true}') is True
    assert suspicious(value, b'{"password":true}') is True
    assert suspicious(b'{"password":"y"}', b'{"Password":true}') is True


@pytest.mark.parametrize(
    "value",
    [
        AWS_KEY,
        GITHUB,
        SLACK,
        GITLAB,
        GOOGLE,
        "https://user:hunter2@example.com/",
        "kP9xQ2mZ7vL4nR8tW1yB6cF3",
    ],
)
def test_token_formats_are_suspects_under_any_key_and_in_lists(value: str) -> None:
    for doc in ({"name": value}, {"list": ["a", value]}, {"deep": {"er": [{"x": value}]}}):
        assert suspicious(json.dumps(doc, separators=(",", ":")).encode())


JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxIn0.c2ln"
SHORT_FORMATS = [  # detect-secrets' formats that a "-", a "." or a space cuts into runs shorter than 16
    ("xoxb-1-a", "Slack Token"),
    ("XOXP-12-ab", "Slack Token"),  # detect-secrets matches Slack tokens in any case
    ("eyJhIjoxfQ" + ".e30.", "JSON Web Token"),
    ("PuTTY-User-Key-File-2: ssh-rsa", "Private Key"),
    ("glrt-" + "a-" * 12, "GitLab Token"),
    ("https://hooks.slack.com/services/T0/B0/x", "Slack Token"),
]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (AWS_KEY, "AWS Access Key"),
        (GITHUB, "GitHub Token"),
        ("github_pat_" + "a1B2c3D4e5" * 5, "GitHub Token"),  # fine-grained: tfkit's own format
        ("AIza" + "SyD-aGmWKa4Js-XZ-HjGw7ISLn-3namBGew", "Google API Key"),  # tfkit's own format
        (SLACK, "Slack Token"),
        (GITLAB, "GitLab Token"),
        ("sk_live_" + "a1B2c3D4" * 3, "Stripe Access Key"),
        (JWT, "JSON Web Token"),
        ("https://user:hunter2@example.com/", "Basic Auth Credentials"),
        ("-----BEGIN RSA PRIVATE KEY-----", "Private Key"),
        *SHORT_FORMATS,
        ("kP9xQ2mZ7vL4nR8tW1yB6cF3", None),
        ("https://example.com/a:b@c", None),
    ],
)
def test_token_kinds_are_detect_secrets_names(text: str, kind: str | None) -> None:
    assert _detect.token_kind(text) == kind


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize(
    "text",
    [
        *(text for text, _ in SHORT_FORMATS),
        JWT,
        # detect-secrets matches an AWS secret key case-insensitively: "ſ" (U+017F) is an "s" there, so it
        # is part of the token; non-ASCII characters count as token characters.
        "aws_key = '" + "AAAAAAAAAſ" * 4 + "'",
    ],
)
def test_formats_cut_short_or_spelled_otherwise_are_suspects(text: str, ensure_ascii: bool) -> None:
    assert _detect.token_kind(text) is not None
    assert suspicious(json.dumps({"k": text}, ensure_ascii=ensure_ascii).encode())


def test_escapes_terraform_writes_itself_are_not_suspects() -> None:
    assert not suspicious(b'{"k":"a \\u003c b \\u0026 c \\u2028 d \\u0001"}')
    assert suspicious(b'{"k":"\\u0131"}')  # any other escape is


def test_credential_keys_with_escapes_are_found_as_written() -> None:
    value = b'{"n":1,"R\\u0026D_token":"x"}'  # Terraform writes "&" in a key as \u0026
    assert suspicious(value, b"{}")
    assert not suspicious(value, b'{"R\\u0026D_token":true}')
    assert suspicious(b'{"my\\"password":"x","password":"y"}', b'{"password":true}')


def test_long_key_names_are_not_token_runs() -> None:
    assert not suspicious(b'{"triggers_replace_this_very_long_key_name":1,"x":"short"}')
    assert suspicious(b'{"x":"triggers_replace_this_very_long_value"}')


def test_a_credential_key_with_a_comma_in_it_is_found() -> None:
    assert suspicious(b'{"n":1,"a,db_secret":"x"}', b'{"db_secret":true}')
    assert not suspicious(b'{"n":1,"a,db_secret":"x"}', b'{"a,db_secret":true}')
    # One word, "a_secret,_arn", named like metadata (an ARN); its part before the comma names a secret.
    assert not suspicious(b'{"n":1,"a_secret,_arn":"x"}')


def test_a_credential_key_ending_in_a_comma_is_found() -> None:
    """',"' also ends a key that ends in a comma; the key must not be lost between distinct pieces."""
    assert suspicious(b'{"n":1,"db_password,":"x"}')
    assert suspicious(b'{"environment":{"DB_PASSWORD,":"hunter2"}}')
    assert not suspicious(b'{"n":1,"db_password,":"x"}', b'{"db_password,":true}')


def test_a_mark_under_an_unknown_attribute_does_not_hide_a_clear_value() -> None:
    """Terraform marks a sensitive attribute known only after apply, and leaves it out of ``after``."""
    clear = b'{"api_key":"plaintext-key-0123456789"}'
    assert suspicious(clear, b'{"input":{"api_key":true}}', b'{"input":true}')
    assert suspicious(clear, b'{"tags":{"api_key":true}}', b'{"tags":{"api_key":true}}')
    assert not suspicious(clear, b'{"api_key":true}', b'{"input":true}')  # its own mark, not covered
    assert not suspicious(b'{"api_key":"x","input":null}', b'{"api_key":true,"input":{"api_key":true}}')


@given(st.lists(records, min_size=1, max_size=6))
def test_every_key_is_whole_in_the_distinct_pieces_unless_the_cut_is_seen(values: list[Any]) -> None:
    """A key ending in a comma is cut between pieces; ``suspects`` then reads keys from the whole text."""
    packed = Packed([json.dumps(v, separators=(",", ":")).encode() for v in values])
    keys = set(re.findall(rb'"(?:[^"\\]|\\.)*":', packed.buffer))
    cut = _detect._CUT_KEY.search(packed.distinct) is not None
    assert cut == any(key.endswith(b',":') for key in keys)
    if not cut:
        assert keys <= set(re.findall(rb'"(?:[^"\\]|\\.)*":', packed.distinct))


def test_packed_offsets_map_back_to_each_value() -> None:
    values = [b"{}", b'{"a":"xox"}', b"null", b'"s"']
    packed = Packed(values)
    assert json.loads(packed.buffer) == [{}, {"a": "xox"}, None, "s"]
    assert [packed.buffer[packed.starts[i] : packed.end(i)] for i in range(len(values))] == values
    assert [packed.buffer[slice(*packed.span(0, n))] for n in (1, 2, 4)] == [
        b"{}",
        b'{},{"a":"xox"}',
        b'{},{"a":"xox"},null,"s"',
    ]
    assert packed.buffer[slice(*packed.span(1, 3))] == b'{"a":"xox"},null'
    assert packed.records_of(packed.find_all(b"xox")) == {1}
    assert b'"a"' in packed and b'"b"' not in packed
    assert packed.distinct and b'"a"' in packed and b'"b"' not in packed  # read from the pieces now
    assert packed.span(1, 3) == (packed.starts[1], packed.end(2))
    assert packed.records_of(packed.find_all(b'"')) == {1, 3}
    assert Packed([]).buffer == b"[]" and len(Packed([])) == 0 and suspects(Packed([]), []) == []


def _every_plan() -> list[Path]:
    return sorted(PLANS.rglob("*.json"))


@pytest.mark.parametrize("path", _every_plan(), ids=lambda p: str(p.relative_to(PLANS)))
def test_the_secret_scan_finds_on_real_plans_what_decoding_every_value_finds(path: Path) -> None:
    plan = load_plan(path)
    scanned = {(a, p) for a, p, _k, _t in builtin._scan(plan) if a and not a.startswith(("var.", "output."))}
    everything = {
        (rc.address, format_path(p))
        for rc in plan.resource_changes
        for p, key, text in _detect.walk_strings(rc.change.after, rc.change.after_sensitive)
        if builtin._candidate(key, text)
    }
    assert scanned == everything
