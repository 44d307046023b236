"""The built-in policy pack: the rules an infrastructure repository usually writes down and rarely enforces.

Ids are stable (waivers and tfkit.toml settings name them). Plan policies are ``TFK0xx``; configuration
policies, which read the ``.tf`` files with ``tfkit.hcl``, are ``TFK1xx``. Each one's docstring says why it
exists; its parameters are set under ``[policies.<ID>]`` (or ``[environments.<env>.policies.<ID>]``).

No message here quotes a value from the plan: values may be secrets. Messages name addresses and paths.
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import operator
import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from tfkit.addresses import matches_any
from tfkit.findings import Severity
from tfkit.plan import Action, format_path
from tfkit.policy import _detect, _tags
from tfkit.policy._columns import masks, packed_afters, per_plan, unknowns
from tfkit.policy.api import Policy, PolicyContext, SkipPolicy, Violation, policy

if TYPE_CHECKING:
    from tfkit.hcl import Block, ModuleGraph
    from tfkit.plan import ModuleCall, Plan, ResourceChange

__all__ = ["BUILTIN"]

_WRITES = frozenset(
    {
        Action.CREATE,
        Action.UPDATE,
        Action.DELETE_THEN_CREATE,
        Action.CREATE_THEN_DELETE,
        Action.CREATE_THEN_FORGET,
    }
)
_BUILTIN_PROVIDER = "terraform.io/builtin/terraform"


def _type_matches(name: str, patterns: Iterable[str]) -> bool:
    """A resource type against TFK007's globs (``fnmatch``: ``aws_iam_*``)."""
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _destroyed(plan: Plan) -> tuple[ResourceChange, ...]:
    """Managed objects the plan destroys: deletes and replacements, in plan order (TFK001 and TFK002)."""
    return per_plan(
        plan, "destroyed", lambda p: tuple(rc for rc in p.by_action(*_DESTRUCTIVE) if rc.mode == "managed")
    )


_DESTRUCTIVE = tuple(action for action in Action if action.is_destructive)


# ------------------------------------------------------------------------------------------ changes


@policy(
    id="TFK001",
    severity=Severity.SOFT,
    params={"allow": [], "protected_envs": []},
)
def protected_no_destroy(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """No delete or replace in a protected environment unless the address is explicitly allowed.

    Production data lives in the objects a plan would destroy; a replace is a destroy too. Allow an address
    for good with ``allow = ["module.x.*", 'aws_db_instance.main[0]']`` (``tfkit.addresses`` patterns, as in
    waivers), or once with a waiver that expires.
    """
    if not ctx.protected:
        return
    allow = ctx.params.get("allow", ())
    for rc in _destroyed(plan):
        if not matches_any(allow, rc.address):
            what = "replace" if rc.change.action.is_replace else "delete"
            yield Violation(
                f"{what} in protected environment '{ctx.environment}'; "
                "allow the address in [policies.TFK001] allow or with a waiver",
                address=rc.address,
            )


@policy(id="TFK002", severity=Severity.SOFT, params={"max_destructive": 10})
def blast_radius(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """At most ``max_destructive`` deletes and replaces in one plan (configurable per environment).

    A plan that destroys many objects at once is usually a mistake (a renamed module, a changed ``for_each``
    key); big changes should be split so each can be reviewed and rolled back.
    """
    limit = int(ctx.params.get("max_destructive", 10))
    destroyed = _destroyed(plan)
    if len(destroyed) > limit:
        shown = ", ".join(rc.address for rc in destroyed[:3])
        more = f" and {len(destroyed) - 3} more" if len(destroyed) > 3 else ""
        yield Violation(
            f"the plan destroys or replaces {len(destroyed)} objects, more than the limit of {limit} "
            f"({shown}{more}); split the change or raise [policies.TFK002] max_destructive"
        )


# ------------------------------------------------------------------------------------------ secrets


def _root_sensitive_variables(plan: Plan) -> set[str]:
    configuration = plan.configuration
    if configuration is None:
        return set()
    return {name for name, v in configuration.root_module.variables.items() if v.sensitive}


def _candidate(key: str, text: str) -> bool:
    """Worth a secret policy's look: a known token, a credential-like key, or a token-like run."""
    return (
        _detect.is_secret_key_name(key)
        or _detect.token_kind(text) is not None
        or _detect.is_high_entropy(text, min_length=_MIN_ENTROPY_LENGTH, threshold=3.5)
    )


def _scan(plan: Plan) -> list[tuple[str | None, str, str, str]]:
    """(address, path, key, text) for every secret-looking non-sensitive string the plan would expose.

    Resource attributes after the change, root variables not declared sensitive, and root outputs; each
    value's own sensitivity mask is honoured. Only the values ``_detect.suspects`` picks out of one scan of
    all of them are decoded. The three secret policies share one scan per plan. A clear copy of a string
    the plan marks sensitive elsewhere (``Plan.sensitive_values``) exposes nothing new: Terraform drops
    the mark where a ``terraform_data`` output copies a sensitive input, and every writer masks the copy.
    """
    return per_plan(plan, "secrets", _scan_plan)


def _scan_plan(plan: Plan) -> list[tuple[str | None, str, str, str]]:
    found: list[tuple[str | None, str, str, str]] = []
    candidate = functools.cache(_candidate)  # plans repeat their strings; the cache ends with the scan
    changes = plan.resource_changes
    for index in _detect.suspects(packed_afters(plan), masks(plan), unknowns(plan)):
        rc = changes[index]
        change = rc.change
        for path, key, text in _detect.walk_strings(change.after, change.after_sensitive):
            if candidate(key, text):
                found.append((rc.address, format_path(path), key, text))
    sensitive_vars = _root_sensitive_variables(plan) if plan.variables else set()
    for name, variable in plan.variables.items():
        if name in sensitive_vars:
            continue
        for path, key, text in _detect.walk_strings(variable.value, None, (name,)):
            if candidate(key, text):
                found.append((f"var.{name}", format_path(path[1:]), key, text))
    for name, output in plan.output_changes.items():
        if output.after_sensitive is True:
            continue
        for path, key, text in _detect.walk_strings(output.after, output.after_sensitive, (name,)):
            if candidate(key, text):
                found.append((f"output.{name}", format_path(path[1:]), key, text))
    if found:  # a copy of a value the plan marks sensitive elsewhere lost its mark: it is masked as one
        copies = plan.sensitive_values
        found = [item for item in found if item[3] not in copies]
    return found


_MIN_ENTROPY_LENGTH = _detect.MIN_RUN  # TFK005's min_length cannot go below this (the scan's pre-filter)
_DIGEST_KEY = re.compile(r"(?:hash|sha\d*|md5|etag|digest|checksum|fingerprint)$", re.IGNORECASE)
_ADVICE = "mark it sensitive (variable/output sensitive = true) or read it from a secret store"


@policy(id="TFK003", severity=Severity.HARD)
def no_known_tokens(plan: Plan) -> Iterator[Violation]:
    """No known credential format (detect-secrets' AWS keys, tokens, private keys, JWTs...) in a clear value.

    A plan's non-sensitive values end up in CI logs, pull-request comments, snapshots and state in the
    clear. A value in a known token format is a leaked credential, whatever its key is called.
    """
    for address, path, _key, text in _scan(plan):
        kind = _detect.token_kind(text)
        if kind is not None:
            yield Violation(
                f"a non-sensitive value is in a credential format ({kind}); {_ADVICE}", address, path or None
            )


@policy(id="TFK004", severity=Severity.SOFT)
def no_secret_named_values(plan: Plan) -> Iterator[Violation]:
    """No non-sensitive value under a credential-like key (password, token, secret, private_key, api_key).

    Terraform only hides values that come from sensitive variables or attributes; a password typed into a
    tfvars file or a map is shown in the clear everywhere the plan goes.
    """
    for address, path, key, text in _scan(plan):
        if text.strip() and _detect.is_secret_key_name(key) and _detect.token_kind(text) is None:
            yield Violation(
                f"'{key}' is not sensitive but is named like a credential; {_ADVICE}", address, path or None
            )


@policy(id="TFK005", severity=Severity.ADVISORY, params={"min_length": 20, "threshold": 4.0})
def no_high_entropy_values(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """Report long random-looking strings (high Shannon entropy) in non-sensitive values.

    Generated keys and tokens often have no telling format; entropy catches them. Values under digest-like
    keys (``*_hash``, ``*sha256``, ``etag``) are left alone. Advisory because some identifiers are random
    too; raise it to soft once the repository is clean.
    """
    min_length = int(ctx.params.get("min_length", 20))
    threshold = float(ctx.params.get("threshold", 4.0))
    for address, path, key, text in _scan(plan):
        named = (
            _detect.token_kind(text) is not None or _detect.is_secret_key_name(key) or _DIGEST_KEY.search(key)
        )
        if not named and _detect.is_high_entropy(text, min_length=min_length, threshold=threshold):
            yield Violation(
                f"a non-sensitive value looks random (high entropy); {_ADVICE}", address, path or None
            )


# ------------------------------------------------------------------------------------------ resources


@policy(
    id="TFK006",
    severity=Severity.SOFT,
    params={"keys": ["owner"], "attributes": ["tags", "labels", "input.tags"]},
)
def required_tags(plan: Plan, ctx: PolicyContext) -> list[Violation]:
    """Resources that carry tags or labels must have the required keys (``keys``).

    Ownership and cost tags are how a team finds who to call and who pays. ``attributes`` lists where tags
    live: ``tags`` and ``labels`` for most providers, ``input.tags`` for ``terraform_data``.
    """
    keys = tuple(sorted(set(ctx.params.get("keys", ()))))
    attributes = tuple(dict.fromkeys(ctx.params.get("attributes", ())))
    changes = plan.resource_changes
    reported: list[tuple[int, int, tuple[str, ...], list[int]]] = []  # attribute, first index, keys, indices
    for (attribute, missing), indices in _tags.gaps(packed_afters(plan), attributes, keys).items():
        kept = [i for i in indices if (rc := changes[i]).mode == "managed" and rc.change.action in _WRITES]
        if kept:
            reported.append((attribute, kept[0], missing, kept))
    violations: list[Violation] = []
    for attribute, _first, missing, kept in sorted(reported, key=operator.itemgetter(0, 1)):
        violations += map(
            Violation,
            itertools.repeat(f"missing required tag(s): {', '.join(missing)}"),
            [changes[i].address for i in kept],
            itertools.repeat(attributes[attribute]),
        )
    return violations


@policy(id="TFK007", severity=Severity.SOFT, params={"allowed": [], "denied": []})
def resource_types(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """Only allowed resource types are created or changed, and never a denied one (globs).

    A platform team decides which services a repository may use (no ``aws_iam_user`` with static keys, only
    the approved database engines); deleting a denied type is always allowed.
    """
    allowed = tuple(ctx.params.get("allowed", ()))
    denied = tuple(ctx.params.get("denied", ()))
    if not allowed and not denied:
        return
    for rc in plan.resource_changes:
        if rc.mode != "managed" or rc.change.action not in _WRITES:
            continue
        if denied and _type_matches(rc.type, denied):
            yield Violation(f"resource type {rc.type} is denied ([policies.TFK007] denied)", rc.address)
        elif allowed and not _type_matches(rc.type, allowed):
            yield Violation(f"resource type {rc.type} is not in [policies.TFK007] allowed", rc.address)


def _provider_allowed(provider: str, allowed: tuple[str, ...]) -> bool:
    short = provider.rsplit("/", 1)[-1]
    return provider == _BUILTIN_PROVIDER or any(
        fnmatch.fnmatchcase(provider, p) or fnmatch.fnmatchcase(short, p) for p in allowed
    )


@policy(id="TFK008", severity=Severity.SOFT, params={"allowed": []})
def allowed_providers(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """Every resource and data source comes from an allowed provider (full source address or short name).

    Providers run with the repository's credentials; an unreviewed one is arbitrary code with production
    access. The built-in ``terraform`` provider (``terraform_data``) is always allowed.
    """
    allowed = tuple(ctx.params.get("allowed", ()))
    if not allowed:
        return
    seen: dict[str, str] = {}
    for rc in plan.resource_changes:
        if (
            rc.provider_name
            and rc.provider_name not in seen
            and not _provider_allowed(rc.provider_name, allowed)
        ):
            seen[rc.provider_name] = rc.address
    for provider, address in seen.items():
        yield Violation(f"provider {provider} is not in [policies.TFK008] allowed", address)


# ------------------------------------------------------------------------------------- configuration


def _graph(ctx: PolicyContext, *, required: bool = True) -> ModuleGraph | None:
    """The module graph of the environment's directory; without one, skip the policy (or ``None``)."""
    env = ctx.env
    if env is None or not env.directory.is_dir():
        if required:
            raise SkipPolicy("no environment directory to read the configuration from")
        return None
    from tfkit.hcl import module_graph

    cache_dir = ctx.project.cache_dir if ctx.project is not None else None
    return module_graph(env.directory, cache_dir=cache_dir)


def _rel(path: os.PathLike[str], ctx: PolicyContext) -> str:
    root = ctx.project.root if ctx.project is not None else None
    return os.path.relpath(path, root) if root is not None else os.fspath(path)


_GIT_SOURCE = ("git::", "github.com/", "bitbucket.org/", "git@")


def _unpinned(source: str, version: str | None, exact: bool) -> str | None:
    """Why a module source is not pinned, or ``None`` if it is."""
    if source.startswith(("./", "../", "/")):
        return None
    if source.startswith(_GIT_SOURCE) or "git::" in source:
        return None if "ref=" in source else "git source without ?ref= (pin a tag or commit)"
    if "://" in source or source.startswith(("s3::", "gcs::", "hg::")):
        return None
    if source.count("/") in (2, 3):  # registry: [host/]namespace/name/provider
        if not version:
            return "registry module without a version"
        if exact and not version.lstrip("= ").replace(".", "").isalnum():
            return "registry module version is a range, not an exact version"
        return None
    return None


def _plan_module_calls(plan: Plan) -> Iterator[tuple[str, ModuleCall]]:
    configuration = plan.configuration
    if configuration is None:
        return
    pending = [("", configuration.root_module)]
    while pending:
        prefix, module = pending.pop()
        for name, call in module.module_calls.items():
            address = f"{prefix}module.{name}"
            yield address, call
            if call.module is not None:
                pending.append((address + ".", call.module))


@policy(id="TFK101", severity=Severity.SOFT, params={"exact": False})
def module_sources_pinned(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """Module sources are local paths or pinned: a registry ``version``, a git ``?ref=``.

    An unpinned module changes under the repository's feet: the same commit plans differently tomorrow, and
    promotion from staging to production no longer means the same code. Reads the ``.tf`` files (with file
    and line) when the environment's directory is known, else the plan's configuration.
    """
    exact = bool(ctx.params.get("exact", False))
    graph = _graph(ctx, required=False)
    if graph is not None:
        for _caller, call in graph.calls:
            reason = _unpinned(call.source, call.version, exact)
            if reason:
                yield Violation(
                    f"module source {call.source} is not pinned: {reason}",
                    address=f"module.{call.name}",
                    file=_rel(call.block.file, ctx),
                    line=call.block.line,
                )
        return
    for address, planned in _plan_module_calls(plan):
        reason = _unpinned(planned.source, planned.version_constraint, exact)
        if reason:
            yield Violation(f"module source {planned.source} is not pinned: {reason}", address=address)


def _literal_credentials(block: Block, ctx: PolicyContext) -> Iterator[Violation]:
    """A violation per literal under a secret name (``tfkit.hcl.credentials``) or in a known token format."""
    from tfkit.hcl import credentials

    named = set(credentials(block))
    label = ".".join(block.labels)
    for literal in block.literals:
        if literal in named or _detect.token_kind(literal.value) is not None:
            yield Violation(
                f"{block.kind} '{label}' sets {literal.path} to a literal credential; pass it through an "
                "environment variable or a secret source instead",
                address=f"{block.kind}.{label}",
                path=literal.path,
                file=_rel(block.file, ctx),
                line=literal.line,
            )


@policy(id="TFK102", severity=Severity.HARD)
def no_credentials_in_config(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """No provider or backend credential written literally in a ``.tf`` file.

    Whatever is committed is in every clone and every CI cache forever; credentials belong in the
    environment (``AWS_*``, ``TF_VAR_*``) or a secret store. Hard: a waiver would not make it less leaked.
    """
    graph = _graph(ctx)
    if graph is None:
        return
    for module in graph.walk():
        for block in (*module.providers, *module.backends):
            yield from _literal_credentials(block, ctx)


@policy(id="TFK103", severity=Severity.SOFT)
def variables_typed_and_described(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
    """Every variable of the environment and of the local modules it uses has a type and a description.

    Types make Terraform reject bad input before anything runs, and let ``tfkit.testing.strategies`` generate
    valid inputs; descriptions are the module's documentation.
    """
    graph = _graph(ctx)
    if graph is None:
        return
    for module in graph.walk():
        for variable in module.variables.values():
            missing = [
                what
                for what, value in (("type", variable.type), ("description", variable.description))
                if not value
            ]
            if missing:
                yield Violation(
                    f"variable '{variable.name}' has no {' and no '.join(missing)}",
                    address=f"{_rel(module.directory, ctx)}/variable.{variable.name}",
                    file=_rel(variable.block.file, ctx),
                    line=variable.block.line,
                )


BUILTIN: tuple[Policy, ...] = (
    protected_no_destroy,
    blast_radius,
    no_known_tokens,
    no_secret_named_values,
    no_high_entropy_values,
    required_tags,
    resource_types,
    allowed_providers,
    module_sources_pinned,
    no_credentials_in_config,
    variables_typed_and_described,
)
"""The built-in pack, in id order."""
