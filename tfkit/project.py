"""The infrastructure repository tfkit runs: its root, its config, and its environments in order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tfkit.config import CONFIG_FILE, Config, EnvironmentConfig, SecretSource, load_config
from tfkit.content_cache import cache_dir
from tfkit.errors import ConfigError, EnvironmentNotFoundError
from tfkit.graph import EnvironmentGraph

__all__ = ["Environment", "Project", "find_root"]


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding ``tfkit.toml``, as git finds ``.git``.

    Any entry of that name counts, a file or not (a directory, a dangling symlink): one that cannot be
    read is then an error when it loads, never "no repository" (which would gate without its policies).
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if os.path.lexists(candidate / CONFIG_FILE):
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE} found in {here} or any parent directory; run tfkit inside an "
        f"infrastructure repository or pass --root",
        file=CONFIG_FILE,
    )


@dataclass(frozen=True, slots=True)
class Environment:
    """One environment: a root module directory with its var files, backend and protection."""

    project: Project
    name: str
    index: int
    directory: Path
    var_files: tuple[Path, ...]
    protected: bool
    backend: Mapping[str, str]
    secrets: Mapping[str, SecretSource]
    #: The environments it comes after in promotion order (``[environments.<name>] after``).
    after: tuple[str, ...] = ()
    #: The environments whose outputs it reads (``needs``).
    needs: tuple[str, ...] = ()

    @classmethod
    def _from_config(cls, project: Project, index: int, cfg: EnvironmentConfig) -> Environment:
        directory = (project.root / cfg.dir).resolve()
        return cls(
            project=project,
            name=cfg.name,
            index=index,
            directory=directory,
            var_files=tuple((directory / v).resolve() for v in cfg.var_files),
            protected=cfg.protected,
            backend=dict(cfg.backend),
            secrets={**project.config.secrets, **cfg.secrets},
            after=cfg.after,
            needs=cfg.needs,
        )

    @property
    def previous(self) -> Environment | None:
        """The (first) environment this one comes after, if any: what ``promote`` copies modules from."""
        return self.project.environment(self.after[0]) if self.after else None

    def check(self) -> None:
        """Raise a one-line error if the directory or a var file is missing."""
        if not self.directory.is_dir():
            rel = os.path.relpath(self.directory, self.project.root)
            raise EnvironmentNotFoundError(
                f"environment '{self.name}': directory {rel} does not exist; create it or set "
                f"environments.{self.name}.dir in {self.project.config.path.name}",
                name=self.name,
                known=self.project.names,
            )
        for var_file in self.var_files:
            if not var_file.is_relative_to(self.directory):
                raise ConfigError(
                    f"{self.project.config.path}: environments.{self.name}.var_files: {var_file} is outside "
                    "the environment's directory; keep var files inside it (snapshots bundle that directory)",
                    file=str(self.project.config.path),
                    key=f"environments.{self.name}.var_files",
                )
            if not var_file.is_file():
                rel = os.path.relpath(var_file, self.project.root)
                raise ConfigError(
                    f"{self.project.config.path}: environments.{self.name}.var_files: {rel} does not exist",
                    file=str(self.project.config.path),
                    key=f"environments.{self.name}.var_files",
                )

    def __repr__(self) -> str:
        return f"Environment({self.name!r}, {self.directory})"


@dataclass(frozen=True, slots=True)
class Project:
    """An infrastructure repository: ``tfkit.toml``, its environments in promotion order."""

    root: Path
    config: Config

    @classmethod
    def load(cls, start: Path | str | None = None) -> Project:
        """Find ``tfkit.toml`` at or above ``start`` (default: the current directory) and load it."""
        root = find_root(Path(start) if start is not None else None)
        return cls(root=root, config=load_config(root / CONFIG_FILE))

    @property
    def environments(self) -> tuple[Environment, ...]:
        """Every environment, in promotion order."""
        return tuple(Environment._from_config(self, i, c) for i, c in enumerate(self.config.environments))

    @property
    def names(self) -> tuple[str, ...]:
        """The environment names in promotion order."""
        return tuple(c.name for c in self.config.environments)

    @property
    def graph(self) -> EnvironmentGraph:
        """The environments as a graph: ``after`` (promotion) and ``needs`` (outputs) edges."""
        return self.config.graph

    @property
    def state_dir(self) -> Path:
        """tfkit's own data directory (snapshots, ledger, locks, caches); git-ignored."""
        return self.root / ".tfkit"

    @property
    def cache_dir(self) -> Path:
        """Where content-keyed caches live: ``TFKIT_CACHE_DIR`` (a directory CI keeps), else ``.tfkit/cache``.

        Entries are keyed by their content and the tool versions, so one cache can serve several checkouts.
        """
        return cache_dir(self.root)

    def environment(self, name: str) -> Environment:
        """The environment called ``name``; a one-line error listing the known ones otherwise.

        Only that one is built (its paths resolved): a run asks for environments by name many times, and a
        repository may have hundreds.
        """
        for index, cfg in enumerate(self.config.environments):
            if cfg.name == name:
                return Environment._from_config(self, index, cfg)
        raise EnvironmentNotFoundError(
            f"unknown environment '{name}'; known environments: {', '.join(self.names)}",
            name=name,
            known=self.names,
        )
