"""A generated repository of stacks and stages for the graph tests and benchmarks (real Terraform files).

``make_graph_repo`` writes ``envs/<stage>/<stack>/`` root modules with ``terraform_data`` resources, a
``[stacks]`` tfkit.toml, shared modules (``modules/mid-<k>`` calling ``modules/leaf`` for some k) and
``needs`` chains between stacks, and commits it to git. ``GraphRepo`` keeps what it generated as plain data,
so a test can compute what a change affects without tfkit's own code.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

STAGES = ("dev", "qa", "staging", "production")


@dataclass(frozen=True, slots=True)
class GraphRepo:
    """What ``make_graph_repo`` wrote: the stacks, each stack's module and needs, the root."""

    root: Path
    stacks: tuple[str, ...]
    stages: tuple[str, ...]
    module_of: dict[str, str | None]  # stack -> modules/mid-k (or None)
    needs_of: dict[str, tuple[str, ...]]  # stack -> stacks it reads (same stage)
    nested: dict[str, tuple[str, ...]]  # module -> modules it calls

    def name(self, stack: str, stage: str) -> str:
        return f"{stack}-{stage}"

    def names(self) -> list[str]:
        return [self.name(s, g) for g in self.stages for s in self.stacks]


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a fixed identity; its stdout."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


MODULE = """\
variable "value" {
  type        = string
  description = "what the resource holds"
}

resource "terraform_data" "this" {
  input = var.value
}
%s
output "value" {
  value       = terraform_data.this.output
  description = "what the resource holds"
}
"""

ROOT = """\
variable "stage" {
  type        = string
  description = "the stage this root module runs in"
}

resource "terraform_data" "own" {
  input = "${var.stage}-%(stack)s"
}
%(module)s
output "id" {
  value       = terraform_data.own.output
  description = "the root module's own value"
}
"""

CALL = """
module "shared" {
  source = "%s"
  value  = "${var.stage}-%s"
}
"""


NESTED = """
module "inner" {
  source = "%s"
  value  = "${var.value}-nested"
}
"""


def make_graph_repo(
    root: Path, stacks: int = 50, stages: tuple[str, ...] = STAGES, modules: int = 3
) -> GraphRepo:
    """Write and commit the repository: ``stacks`` stacks in each of ``stages``.

    Stack i uses ``mid-(i % modules)`` unless i % 7 == 3, and needs stack i-1 unless i % 5 == 0;
    ``mid-0`` calls ``leaf`` (a nested module)."""
    names = tuple(f"st{i:02d}" for i in range(stacks))
    module_of = {s: (None if i % 7 == 3 else f"modules/mid-{i % modules}") for i, s in enumerate(names)}
    needs_of = {s: (() if i % 5 == 0 else (names[i - 1],)) for i, s in enumerate(names)}
    nested = {f"modules/mid-{k}": (("modules/leaf",) if k == 0 else ()) for k in range(modules)}
    nested["modules/leaf"] = ()
    root.mkdir(parents=True, exist_ok=True)
    for module, calls in nested.items():
        directory = root / module
        directory.mkdir(parents=True, exist_ok=True)
        inner = "".join(NESTED % ("../" + c.split("/")[1]) for c in calls)
        (directory / "main.tf").write_text(MODULE % inner)
    for stage in stages:
        for stack in names:
            directory = root / "envs" / stage / stack
            directory.mkdir(parents=True, exist_ok=True)
            module = module_of[stack]
            call = CALL % ("../../../" + module, stack) if module else ""
            (directory / "main.tf").write_text(ROOT % {"stack": stack, "module": call})
            (directory / f"{stage}.tfvars").write_text(f'stage = "{stage}"\n')
    needs = "".join(f'{s} = ["{n[0]}"]\n' for s, n in needs_of.items() if n)
    stage_tables = "".join(f'\n[stacks.stage.{g}]\nvar_files = ["{g}.tfvars"]\n' for g in stages)
    (root / "tfkit.toml").write_text(
        f'[stacks]\npattern = "envs/{{stage}}/{{stack}}"\nstages = {list(stages)!r}\n'.replace("'", '"')
        + f"\n[stacks.needs]\n{needs}{stage_tables}"
        + "\n[checkov]\nenabled = false  # the tests of the graph need only tfkit's own policies\n"
    )
    (root / ".gitignore").write_text(".tfkit/\n.terraform/\n*.tfstate*\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "generated")
    return GraphRepo(root, names, stages, module_of, needs_of, nested)


def expected_affected(repo: GraphRepo, changed_modules: set[str], changed_envs: set[str]) -> set[str]:
    """What a change to ``changed_modules`` and the ``changed_envs``' own files affects, computed from the
    generator's data: users of a changed module (through nested calls), then readers of their outputs."""

    def reaches(module: str | None) -> set[str]:
        found: set[str] = set()
        todo = [module] if module else []
        while todo:
            current = todo.pop()
            found.add(current)
            todo.extend(repo.nested[current])
        return found

    hit = set(changed_envs)
    for stage in repo.stages:
        for stack in repo.stacks:
            if reaches(repo.module_of[stack]) & changed_modules:
                hit.add(repo.name(stack, stage))
    grew = True
    while grew:
        grew = False
        for stage in repo.stages:
            for stack in repo.stacks:
                name = repo.name(stack, stage)
                if name not in hit and any(repo.name(n, stage) in hit for n in repo.needs_of[stack]):
                    hit.add(name)
                    grew = True
    return hit
