"""Environments as a graph: ``after``/``needs`` in tfkit.toml, graph errors, ordering and drawing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from testsupport import invoke_tfkit

from tfkit.config import load_config
from tfkit.errors import ConfigError
from tfkit.graph import EnvironmentGraph, GraphError, render_dot, render_mermaid

FANOUT = """\
[environments.dev]
[environments.staging]
[environments.production-eu]
after = ["staging"]
[environments.production-us]
after = ["staging"]
[environments.reporting]
after = []
needs = ["production-eu", "production-us"]
"""


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tfkit.toml"
    path.write_text(text)
    return path


def test_listing_order_is_the_default_chain(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, FANOUT))
    after = {e.name: e.after for e in config.environments}
    assert after == {
        "dev": (),
        "staging": ("dev",),
        "production-eu": ("staging",),
        "production-us": ("staging",),
        "reporting": (),
    }
    assert config.environment("reporting") is not None
    assert config.graph.levels() == [
        ["dev"],
        ["staging"],
        ["production-eu", "production-us"],
        ["reporting"],
    ]


def test_order_respects_needs_and_after(tmp_path: Path) -> None:
    graph = load_config(_config(tmp_path, FANOUT)).graph
    order = graph.order()
    for name in graph.names:
        for before in graph.predecessors(name):
            assert order.index(before) < order.index(name), (before, name)
    assert graph.downstream(["staging"]) == {"production-eu", "production-us", "reporting"}
    assert graph.dependents(["production-eu"]) == {"reporting"}
    assert graph.dependents(["staging"]) == set(), "after is promotion, not reading outputs"


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (
            '[environments.a]\nafter = ["b"]\n[environments.b]\n',
            "environments form a cycle: a -> b -> a; remove one edge",
        ),
        ('[environments.a]\nneeds = ["a"]\n', "environments.a.needs: 'a' cannot name itself"),
        (
            '[environments.a]\n[environments.b]\nafter = ["c"]\n',
            "environments.b.after: unknown environment 'c'",
        ),
        (
            '[environments.a]\n[environments.b]\nafter = []\nneeds = ["c"]\n'
            '[environments.c]\nafter=[]\nneeds = ["b"]\n',
            "environments form a cycle",
        ),
    ],
)
def test_graph_errors_are_one_line_exit_2(tmp_path: Path, tables: str, message: str) -> None:
    _config(tmp_path, tables)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(tmp_path / "tfkit.toml")
    result = invoke_tfkit("envs", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cycle_message_names_a_real_cycle() -> None:
    with pytest.raises(GraphError) as caught:
        EnvironmentGraph(("a", "b", "c"), {"a": ("c",), "b": ("a",), "c": ("b",)})
    cycle = str(caught.value).split(": ", 1)[1].split(";")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    edges = {("c", "a"), ("a", "b"), ("b", "c")}  # before -> after
    assert all((x, y) in edges for x, y in itertools.pairwise(cycle))


def test_levels_of_a_subset_look_through_left_out_environments(tmp_path: Path) -> None:
    graph = load_config(_config(tmp_path, FANOUT)).graph
    assert graph.levels(["dev", "production-us", "reporting"]) == [["dev"], ["production-us"], ["reporting"]]
    assert graph.restricted(["dev", "reporting"]) == {"dev": (), "reporting": ("dev",)}


def test_envs_graph_text_mermaid_dot(tmp_path: Path) -> None:
    _config(tmp_path, FANOUT)
    for name in ("dev", "staging", "production-eu", "production-us", "reporting"):
        (tmp_path / "envs" / name).mkdir(parents=True)
    text = invoke_tfkit("envs", "--graph", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "level 2:\n  production-eu  after: staging\n  production-us  after: staging" in text.stdout
    assert "reporting  needs: production-eu, production-us" in text.stdout
    mermaid = invoke_tfkit("envs", "--graph", "mermaid", cwd=tmp_path).stdout
    assert mermaid == render_mermaid(load_config(tmp_path / "tfkit.toml").graph) + "\n"
    assert "n_staging --> n_production_eu" in mermaid
    assert "n_production_us -. needs .-> n_reporting" in mermaid
    dot = invoke_tfkit("envs", "--graph", "dot", cwd=tmp_path).stdout
    assert dot.startswith("digraph environments {") and '"staging" -> "production-us";' in dot
    assert '"production-eu" -> "reporting" [style=dashed, label="needs"];' in dot
    assert dot == render_dot(load_config(tmp_path / "tfkit.toml").graph) + "\n"
    listing = invoke_tfkit("envs", cwd=tmp_path).stdout.splitlines()
    assert listing[2] == "3. production-eu  envs/production-eu"
    assert listing[3] == "4. production-us  envs/production-us  after: staging"
    assert listing[4] == "5. reporting  envs/reporting  after: (none)  needs: production-eu, production-us"


def test_a_digest_reaches_an_environment_only_when_all_it_comes_after_applied_it(
    tmp_path: Path,
) -> None:
    from tfkit.ledger import LocalLedger, new_entry, new_health
    from tfkit.project import Project
    from tfkit.promotion import promotion_problems

    _config(
        tmp_path,
        '[environments.eu]\n[environments.us]\nafter = []\n[environments.global]\nafter = ["eu", "us"]\n'
        '[environments.report]\nafter = []\nneeds = ["global"]\n',
    )
    project = Project(tmp_path, load_config(tmp_path / "tfkit.toml"))
    ledger = LocalLedger(tmp_path / ".tfkit")
    target = project.environment("global")
    modules = {"modules/app": "new", "modules/only-mine": "x"}

    def problems(name: str = "global") -> list[str]:
        return [p.message for p in promotion_problems(project.environment(name), modules, ledger)]

    assert problems() == [
        "'eu' has no successful apply yet; apply 'eu' before 'global' ('global' comes after 'eu')",
        "'us' has no successful apply yet; apply 'us' before 'global' ('global' comes after 'us')",
    ]
    ledger.record(
        new_entry("eu", kind="apply", snapshot="s1", modules={"modules/app": "new"}, git_commit=None)
    )
    ledger.record(
        new_entry("us", kind="apply", snapshot="s2", modules={"modules/app": "old"}, git_commit=None)
    )
    assert problems() == [
        "module modules/app has changes that 'us' has not applied (digest new, 'us' is at old); "
        "apply 'us' first"
    ]
    ledger.record(
        new_entry("us", kind="apply", snapshot="s3", modules={"modules/app": "new"}, git_commit=None)
    )
    assert problems() == []
    ledger.set_health(new_health("us", stable=False, reason="apply failed"))
    assert problems() == ["'us' is unstable (apply failed); roll it back or fix it before applying 'global'"]
    assert target.previous is not None and target.previous.name == "eu"
    assert problems("report") == [
        "'global' has no successful apply yet; apply 'global' before 'report' "
        "('report' needs the outputs of 'global')"
    ]
    ledger.record(new_entry("global", kind="apply", snapshot="s4", modules={}, git_commit=None))
    assert problems("report") == [], "needs takes no digests: only a successful, stable apply"


STACKS = """\
[stacks]
pattern = "envs/{stage}/{stack}"
stages = ["dev", "staging", "production"]

[stacks.needs]
services = ["network", "data"]

[stacks.stage.production]
protected = true
"""


def _tree(root: Path, *dirs: str) -> None:
    for directory in dirs:
        (root / directory).mkdir(parents=True)


def test_stacks_pattern_generates_environments_in_stage_order(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        *(
            f"envs/{stage}/{stack}"
            for stage in ("dev", "staging")
            for stack in ("network", "data", "services")
        ),
        "envs/production/network",
        "envs/production/services",
        "envs/unknown-stage/network",
    )
    config = load_config(_config(tmp_path, STACKS))
    rows = {e.name: (e.dir, e.after, e.needs, e.protected) for e in config.environments}
    assert list(rows) == [
        "data-dev", "network-dev", "services-dev",
        "data-staging", "network-staging", "services-staging",
        "network-production", "services-production",
    ]  # fmt: skip
    assert rows["services-dev"] == ("envs/dev/services", (), ("network-dev", "data-dev"), False)
    assert rows["network-staging"] == ("envs/staging/network", ("network-dev",), (), False)
    assert rows["services-production"] == (
        "envs/production/services",
        ("services-staging",),
        ("network-production",),  # no data stack in production
        True,
    )
    levels = config.graph.levels()
    assert levels[0] == ["data-dev", "network-dev"]
    assert levels[1] == ["services-dev", "data-staging", "network-staging"]


def test_stacks_with_the_stack_first_and_listed_environments(tmp_path: Path) -> None:
    _tree(tmp_path, "stacks/net/dev", "stacks/net/prod", "stacks/app/prod", "tools")
    text = (
        '[environments.tools]\ndir = "tools"\n\n[stacks]\npattern = "stacks/{stack}/{stage}"\n'
        'stages = ["dev", "prod"]\nname = "{stage}-{stack}"\n[stacks.needs]\napp = ["net"]\n'
    )
    config = load_config(_config(tmp_path, text))
    assert [(e.name, e.after, e.needs) for e in config.environments] == [
        ("tools", (), ()),
        ("dev-net", (), ()),
        ("prod-app", (), ("prod-net",)),
        ("prod-net", ("dev-net",), ()),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[stacks]\npattern = "envs/{stage}"\nstages = ["dev"]\n',
            "stacks.pattern: needs a {stack} placeholder",
        ),
        (
            '[stacks]\npattern = "none/{stage}/{stack}"\nstages = ["dev"]\n',
            "stacks.pattern: no directory matches",
        ),
        (
            '[stacks]\npattern = "envs/{stage}/{stack}"\nstages = ["dev"]\n'
            '[stacks.needs]\nnetwork = ["dns"]\n',
            "stacks.needs.network: no stack 'dns' matches envs/{stage}/{stack}",
        ),
        (
            '[stacks]\npattern = "envs/{stage}/{stack}"\nstages = ["dev"]\n[stacks.stage.dev]\nafter = []\n',
            "stacks.stage.dev.after: set by the pattern, not per stage",
        ),
        (
            '[environments.network-dev]\n[stacks]\npattern = "envs/{stage}/{stack}"\nstages = ["dev"]\n',
            "environments.network-dev: also generated by [stacks]; rename one",
        ),
        ("[engine]\nkind = 'binary'\n", "missing required key 'environments'"),
    ],
)
def test_stacks_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    _tree(tmp_path, "envs/dev/network")
    result = invoke_tfkit("envs", cwd=tmp_path) if _config(tmp_path, text) else None
    assert result is not None and result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_fan_out_job_waits_for_upstream_and_refuses_when_it_is_unstable(tmp_path: Path) -> None:
    from tfkit.errors import PromotionError
    from tfkit.fanout import blocked, wait_until_allowed
    from tfkit.journal import LocalJournal, journal_entry
    from tfkit.ledger import LocalLedger, new_entry, new_health
    from tfkit.locks import current_holder
    from tfkit.project import Project

    _config(tmp_path, '[environments.a]\n[environments.b]\n[environments.c]\nafter = []\nneeds = ["b"]\n')
    for name in "abc":
        (tmp_path / "envs" / name).mkdir(parents=True)
    project = Project(tmp_path, load_config(tmp_path / "tfkit.toml"))
    ledger = LocalLedger(tmp_path / ".tfkit")
    c = project.environment("c")
    why = blocked(c, ledger)
    assert why is not None and not why.final and "'b' has no successful apply yet" in why.message
    with pytest.raises(
        PromotionError, match=r"refusing to apply 'c' after waiting 0s: 'b' has no successful"
    ):
        wait_until_allowed(c, ledger, timeout=0)
    journal = LocalJournal(tmp_path / ".tfkit", ledger)
    journal.begin(journal_entry("a", current_holder("apply"), plan="sha256:0"))
    assert blocked(c, ledger).final, "without the journal, an unstable upstream refuses"  # type: ignore[union-attr]
    in_flight = blocked(c, ledger, journal=journal)
    assert in_flight is not None and not in_flight.final, "an apply in flight upstream is waited for"
    journal.fail("a", "apply failed: boom")
    ledger.set_health(new_health("a", stable=False, reason="apply failed: boom"))
    with pytest.raises(PromotionError, match="'a' upstream of it is unstable \\(apply failed: boom\\)"):
        wait_until_allowed(c, ledger, timeout=3600, journal=journal)  # at once: waiting cannot help
    journal.finish(new_health("a", stable=True))
    ledger.record(new_entry("b", kind="apply", snapshot="s1", modules={}, git_commit=None))
    assert blocked(c, ledger) is None
    wait_until_allowed(c, ledger, timeout=0)


def test_pattern_candidates_are_the_directories_a_walk_reaches_at_the_pattern_depth(tmp_path: Path) -> None:
    """Hidden directories and symlinks are left out (a link is not followed), files are not directories."""
    from tfkit.stacks import pattern_directories

    for rel in ("envs/dev/net", "envs/dev/app", "envs/prod/net", "envs/.hidden/x", "envs/dev/.terraform"):
        (tmp_path / rel).mkdir(parents=True)
    (tmp_path / "envs/dev/notes.md").write_text("a file\n")
    (tmp_path / "envs/prod/linked").symlink_to(tmp_path / "envs/dev/app")
    (tmp_path / "modules/a").mkdir(parents=True)
    found = pattern_directories(tmp_path, "envs/{stage}/{stack}")
    assert found == ["envs/dev/app", "envs/dev/net", "envs/prod/net"]
    assert pattern_directories(tmp_path, "{stack}") == ["envs", "modules"]
