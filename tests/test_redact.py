"""tfkit.redact: one masking mechanism, fed by secret sources and by the values Terraform marks sensitive."""

from __future__ import annotations

import json
import random
import secrets
from pathlib import Path

import pytest

from tfkit import redact
from tfkit.plan import load_plan
from tfkit.redact import (
    MASK,
    mask,
    mask_bytes,
    mask_json,
    register_plan_secrets,
    register_secret,
    registered_count,
)
from tfkit.terraform import open_engine


def _unique(label: str) -> str:
    """A value no other test registers (the registry is per process and only grows)."""
    return f"{label}-{secrets.token_hex(8)}"


def test_registered_value_is_masked_in_every_form() -> None:
    value = _unique('pa"ss\\word')
    register_secret(value)
    assert mask(f"x {value} y") == f"x {MASK} y"
    escaped = json.dumps(value)[1:-1]
    assert escaped != value
    masked = mask(json.dumps({"v": value}))
    assert escaped not in masked and MASK in masked
    assert value.encode() not in mask_bytes(f"{value}\n".encode())
    assert mask_bytes(b"\xff" + value.encode("latin-1")) == b"\xff" + MASK.encode()


def test_multi_line_secret_is_masked_line_by_line() -> None:
    first, second = _unique("line-one"), _unique("line-two")
    register_secret(f"{first}\n{second}\n")
    assert first not in mask(f"wrapped: {first}") and second not in mask(f"{second} at the end")


def test_short_values_are_not_registered_and_text_is_left_alone() -> None:
    before = registered_count()
    register_secret("ab")
    assert registered_count() == before
    assert mask("ab cd") == "ab cd"


def _config(directory: Path, planted: str, literal: str) -> None:
    directory.mkdir(parents=True)
    (directory / "main.tf").write_text(
        'variable "token" {\n  type      = string\n  sensitive = true\n}\n'
        'resource "terraform_data" "x" {\n'
        f'  input            = {{ plain = "visible-text", number = 7 }}\n'
        f'  triggers_replace = {{ api = sensitive("{literal}") }}\n'
        "}\n"
        'output "token" {\n  value     = var.token\n  sensitive = true\n}\n'
    )


def test_register_plan_secrets_masks_what_the_real_plan_marks_sensitive(tmp_path: Path) -> None:
    planted, literal = _unique("tfvar"), _unique("literal")
    _config(tmp_path / "cfg", planted, literal)
    engine = open_engine("embedded", tmp_path / "cfg", env={"TF_VAR_token": planted})
    try:
        engine.init()
        plan_file = engine.run_dir / "p.tfplan"
        engine.plan(out=plan_file)
        plan = load_plan(engine.show_plan(plan_file))
    finally:
        engine.close()
    raw = plan.raw.decode()
    assert planted in raw and literal in raw  # Terraform's plan JSON carries them in the clear
    assert mask(raw).count(planted) > 0  # not registered by anyone yet
    assert register_plan_secrets(plan) >= 2
    masked = mask(raw)
    assert planted not in masked and literal not in masked
    assert "visible-text" in masked  # values that are not sensitive stay readable


def test_register_plan_secrets_on_a_plan_without_sensitive_values_registers_nothing() -> None:
    empty = load_plan(b'{"format_version": "1.2"}')
    assert register_plan_secrets(empty) == 0


def test_the_mask_text_is_written_once_in_the_package() -> None:
    """``MASK`` is the one "(sensitive)": no other module spells it (docstrings that explain it aside)."""
    import ast

    import tfkit
    from tfkit.plan import SENSITIVE_TEXT

    assert SENSITIVE_TEXT is MASK
    package = Path(tfkit.__file__).parent
    spelled = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        spelled += [
            f"{path.relative_to(package)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MASK in node.value
            and id(node) not in docstrings
        ]
    assert spelled == ["redact.py"]


def test_mask_json_masks_strings_only_and_keeps_every_value() -> None:
    secret = "mask-json-secret-" + secrets.token_hex(8)
    register_secret(secret)
    digits = str(10**11 + secrets.randbelow(10**11))  # a secret made of digits, inside a number below
    register_secret(digits)
    doc = {
        "z": [secret, f"prefix {secret} suffix", 1e100, 2**70, -0.0, None, True, "é<>&\u2028"],
        secret: {"pi": 3.1415926535897, "n": int(digits + "979")},
        "a": {},
    }
    for data in (json.dumps(doc).encode(), json.dumps(doc, ensure_ascii=False), json.dumps(doc, indent=4)):
        written = mask_json(data)
        assert secret.encode() not in written
        back = json.loads(written)
        assert back == {
            "a": {},
            "z": [MASK, f"prefix {MASK} suffix", 1e100, 2**70, -0.0, None, True, "é<>&\u2028"],
            MASK: {"pi": 3.1415926535897, "n": int(digits + "979")},
        }
        assert f'\n "a": {{}},\n "z": [\n  "{MASK}",' in written.decode()  # sorted, indented by one


def test_mask_json_keeps_a_document_that_is_not_strict_json() -> None:
    secret = "mask-json-nan-" + secrets.token_hex(8)
    register_secret(secret)
    written = mask_json('{"v": NaN, "s": "' + secret + '"}')
    assert written == ('{\n "s": "' + MASK + '",\n "v": NaN\n}').encode()
    assert json.loads(mask_json(b"\xef\xbb\xbf" + json.dumps({"s": secret}).encode())) == {"s": MASK}


def _masked_string_by_string(data: bytes) -> bytes:
    """What ``mask_json`` writes, by definition: ``mask`` on each string and key, keys sorted, indent 1."""
    import msgspec

    def walk(value: object) -> object:
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {mask(k): walk(v) for k, v in value.items()}
        return value

    return msgspec.json.format(msgspec.json.encode(walk(msgspec.json.decode(data)), order="sorted"), indent=1)


TRICKY = [  # (secrets, document): matches inside escapes, in keys, across tokens, made by an earlier mask
    (["nabc-x"], {"a": "\nabc-x", "b": "nabc-x", "c": "\\nabc-x"}),
    (['pa"ss', "b\\ack"], {"q": 'x pa"ss y', "b": "b\\ack\\", "c": ["\\", 'pa"ss'], 'pa"ss': 'b\\ack"'}),
    (["1234", "12.5"], {"n": 12345, "f": 12.5, "s": "x1234", "l": [1234, "12.5"]}),
    (["true", "null"], {"t": True, "n": None, "s": "true or null"}),
    (["key-secret"], {"key-secret": 1, "a": "key-secret", "b": {"x-key-secret-y": "key-secret"}}),
    (["abcdefgh", "ive)xyz"], {"a": "abcdefghxyz", "b": "ive)xyz"}),
    (["pässwörd", "\U0001f600-emoji"], {"u": "é pässwörd \U0001f600-emoji", "pässwörd": ["\u2028"]}),
    (["\ttab-secret", "ctl\x01char"], {"t": "a\ttab-secret", "c": "ctl\x01char", "d": "\\ttab-secret"}),
    (['x\\"y', "end\\"], {"a": 'x\\"y', "b": "end\\", "c": "end\\\\", "d": ["end\\", '"y']}),
]


@pytest.mark.parametrize(("registered", "doc"), TRICKY)
def test_mask_json_writes_what_masking_each_string_writes(
    registered: list[str], doc: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.setattr(redact, "_ordered", ())
    for value in registered:
        register_secret(value)
    data = json.dumps(doc).encode()
    assert mask_json(data) == _masked_string_by_string(data)


def test_mask_json_matches_masking_each_string_on_random_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(18)
    alphabet = ['"', "\\", "\n", "a", "b", ":", ",", "1", "é", "}", "n", "u", "(", ")"]

    planted: list[str] = []

    def text(size: int) -> str:
        chosen = "".join(rng.choice(alphabet) for _ in range(size))
        if planted and rng.random() < 0.5:  # a registered secret inside, often next to an escape
            at = rng.randrange(len(chosen) + 1)
            chosen = chosen[:at] + rng.choice(planted) + chosen[at:]
        return chosen

    def value(depth: int) -> object:
        kind = rng.randrange(5 if depth < 3 else 2)
        if kind == 0:
            return text(rng.randrange(12))
        if kind == 1:
            return rng.choice([11, 1.5, True, None, 1111])
        if kind == 2:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {text(rng.randrange(8)): value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(300):
        monkeypatch.setattr(redact, "_secrets", set())
        monkeypatch.setattr(redact, "_ordered", ())
        planted.clear()
        chosen = [text(rng.randrange(4, 7)) for _ in range(rng.randrange(1, 4))]
        for secret in chosen:
            register_secret(secret)
        planted.extend(chosen)
        data = json.dumps({"doc": value(0)}).encode()
        assert mask_json(data) == _masked_string_by_string(data), data
