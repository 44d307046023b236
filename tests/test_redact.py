"""tfkit.redact: one masking mechanism, fed by secret sources and by the values Terraform marks sensitive."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

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
