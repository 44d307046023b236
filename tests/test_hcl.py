"""tfkit.hcl on the example repository and broken files: blocks with lines, module graph, types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tfkit.errors import HclSyntaxError, TfkitError
from tfkit.hcl import MISSING, load_module, module_graph, parse_type

REPO = Path(__file__).resolve().parents[1]


def test_module_graph_follows_local_sources_through_nested_modules(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.tf").write_text('module "a" {\n  source = "../mods/a"\n}\n')
    (tmp_path / "mods" / "a").mkdir(parents=True)
    (tmp_path / "mods" / "a" / "main.tf").write_text('module "b" {\n  source = "./b"\n}\n')
    (tmp_path / "mods" / "a" / "b").mkdir()
    (tmp_path / "mods" / "a" / "b" / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    graph = module_graph(tmp_path / "root")
    assert list(graph.modules) == [
        (tmp_path / "root").resolve(),
        (tmp_path / "mods" / "a").resolve(),
        (tmp_path / "mods" / "a" / "b").resolve(),
    ]
    assert [(c.name, c.source) for _, c in graph.calls] == [("a", "../mods/a"), ("b", "./b")]


def test_example_environment_graph_reaches_every_module() -> None:
    graph = module_graph(REPO / "envs" / "staging")
    names = sorted(p.name for p in graph.modules)
    assert names == ["access", "network", "service", "staging"]
    call = next(c for _, c in graph.calls if c.name == "service")
    assert call.is_local and call.directory == (REPO / "modules" / "service").resolve()
    assert call.block.file.name == "main.tf" and call.block.line == 28


def test_variables_carry_type_description_validation_sensitivity_and_line() -> None:
    variables = load_module(REPO / "modules" / "service").variables
    password = variables["db_password"]
    assert password.sensitive and password.type == "string" and password.required
    assert [v.condition for v in password.validations] == ["length(var.db_password) >= 12"]
    assert password.block.line == 52 and password.block.file.name == "variables.tf"
    assert variables["backup_enabled"].default is True and not variables["backup_enabled"].required
    assert variables["tags"].default == {} and variables["tags"].default is not MISSING
    assert variables["min_size"].description == "Minimum number of instances in each group."


def test_resource_provider_and_backend_blocks_keep_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'terraform {\n  backend "pg" {\n    conn_str = "postgres://db/x"\n  }\n}\n\n'
        'provider "aws" {\n  region = "eu-west-1"\n}\n\n'
        'resource "terraform_data" "a" {\n  input = var.x\n}\n'
        'data "terraform_remote_state" "b" {\n  backend = "local"\n}\n'
    )
    module = load_module(tmp_path)
    (backend,) = module.backends
    assert (backend.labels, backend.line, backend.attribute_line("conn_str")) == (("pg",), 2, 3)
    (provider,) = module.providers
    assert provider.labels == ("aws",) and provider.body["region"] == "eu-west-1" and provider.line == 7
    assert [(r.kind, r.labels, r.line) for r in module.resources] == [
        ("resource", ("terraform_data", "a"), 11),
        ("data", ("terraform_remote_state", "b"), 14),
    ]
    assert module.resources[0].body["input"] == "${var.x}"


def test_syntax_error_is_one_line_with_file_line_and_column_and_no_source_text(tmp_path: Path) -> None:
    secret = "hunter2-do-not-print"
    (tmp_path / "bad.tf").write_text(f'provider "aws" {{\n  token = "{secret}" "x"\n}}\n')
    with pytest.raises(HclSyntaxError) as info:
        load_module(tmp_path)
    message = str(info.value)
    assert "\n" not in message and secret not in message
    assert message.startswith(f"{tmp_path / 'bad.tf'}:2:")
    assert info.value.line == 2 and info.value.exit_code == 2
    assert isinstance(info.value, TfkitError)


def test_missing_directory_is_a_tfkit_error(tmp_path: Path) -> None:
    with pytest.raises(TfkitError, match="no such module directory"):
        load_module(tmp_path / "nope")


def test_type_constraints_parse_into_nested_specs() -> None:
    spec = parse_type(
        'list(object({name = string, port = number, tags = map(string), description = optional(string, "")}))'
    )
    assert spec.kind == "list" and spec.element is not None
    element = spec.element
    assert element.kind == "object"
    assert {k: t.kind for k, t in element.attributes.items()} == {
        "name": "string",
        "port": "number",
        "tags": "map",
        "description": "string",
    }
    assert element.optional == {"description": ""}
    assert parse_type("${set(number)}").element == parse_type("number")
    assert [t.kind for t in parse_type("tuple([string, bool])").elements] == ["string", "bool"]
    with pytest.raises(ValueError, match="unknown type"):
        parse_type("lisst(string)")


def test_importing_tfkit_does_not_import_hcl2() -> None:
    code = "import sys, tfkit, tfkit.hcl, tfkit.policy; print('hcl2' in sys.modules, 'lark' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_literals_and_credentials_keep_their_paths_and_lines(tmp_path: Path) -> None:
    from tfkit.hcl import credentials, parse_text, parse_var_file

    text = (
        'provider "aws" {\n  region = "eu-west-1"\n  token  = var.token\n'
        '  assume_role {\n    role_arn = "arn:x"\n    external_id = "e"\n    session_token = "t"\n  }\n'
        '  list = ["a", { api_key = "k" }]\n  note = "${var.x} and text"\n  blank = " "\n}\n'
    )
    (block,) = parse_text(text, tmp_path / "p.tf")
    assert [(lit.path, lit.line) for lit in block.literals] == [
        ("region", 2),
        ("assume_role.role_arn", 5),
        ("assume_role.external_id", 6),
        ("assume_role.session_token", 7),
        ("list", 9),
        ("list.api_key", 9),
    ]
    assert [lit.path for lit in credentials(block)] == ["assume_role.session_token", "list.api_key"]
    assert "value" not in repr(credentials(block)[0])  # the value is never in a repr
    var_file = parse_var_file('a = "1"\n\nb = { c = "2" }\n', tmp_path / "x")
    assert [(lit.key, lit.line) for lit in var_file] == [("a", 1), ("c", 3)]
    with pytest.raises(HclSyntaxError, match=r"x\.tfvars"):
        parse_var_file("a = {\n", tmp_path / "x.tfvars")


def test_local_sources_reach_every_module_module_graph_follows(tmp_path: Path) -> None:
    from tfkit.hcl import local_sources

    for env in ("dev", "staging", "production"):
        directory = REPO / "envs" / env
        parsed = {d for d in module_graph(directory).modules if d != directory.resolve()}
        assert parsed and local_sources(directory) == parsed
    (tmp_path / "root").mkdir()
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "root" / "main.tf").write_text('module "a" {\n  source="../a"\n}\n# source = "../gone"\n')
    (tmp_path / "a" / "main.tf").write_text('module "b" {\n  source = "./b"\n}\n')
    (tmp_path / "a" / "b" / "main.tf").write_text('module "loop" {\n  source = "../../root"\n}\n')
    assert local_sources(tmp_path / "root") == {(tmp_path / "a").resolve(), (tmp_path / "a" / "b").resolve()}


def test_parse_file_cache_serves_unchanged_content_and_reads_an_edit_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks cached by content come back equal (placed in the file asked for) without parsing."""
    from tfkit import hcl

    cache = tmp_path / "cache"
    source = REPO / "modules" / "service" / "main.tf"
    fresh = hcl.parse_file(source)
    assert hcl.parse_file(source, cache_dir=cache) == fresh
    assert len(list((cache / "hcl").rglob("*.json"))) == 1
    copy = tmp_path / "moved.tf"
    copy.write_bytes(source.read_bytes())

    def no_parsing(text: str) -> None:
        raise AssertionError("parsed although the content is cached")

    with monkeypatch.context() as patched:
        patched.setattr(hcl, "_parse", no_parsing)
        cached = hcl.parse_file(copy, cache_dir=cache)
    assert [(b.kind, b.labels, b.body, b.line, b.literals) for b in cached] == [
        (b.kind, b.labels, b.body, b.line, b.literals) for b in fresh
    ]
    assert {b.file for b in cached} == {copy}
    copy.write_text(source.read_text() + '\nresource "terraform_data" "added" {}\n')
    assert hcl.parse_file(copy, cache_dir=cache)[-1].labels == ("terraform_data", "added")
    assert len(list((cache / "hcl").rglob("*.json"))) == 2
    for entry in (cache / "hcl").rglob("*.json"):
        entry.write_text("{not json")
    assert hcl.parse_file(source, cache_dir=cache) == fresh  # an unreadable entry is parsed and written again
