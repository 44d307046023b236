"""The pure argv builders shared by both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfkit.terraform import args as tfargs


def test_init_is_non_interactive_with_sorted_backend_config() -> None:
    argv = tfargs.init_args(backend_config={"path": "s.tfstate", "bucket": "b"}, upgrade=True)
    assert argv == [
        "init",
        "-input=false",
        "-no-color",
        "-upgrade",
        "-backend-config=bucket=b",
        "-backend-config=path=s.tfstate",
    ]


def test_plan_saves_to_file_with_detailed_exitcode_and_never_passes_var() -> None:
    argv = tfargs.plan_args(
        out=Path("/r/p.tfplan"), var_files=[Path("/e/a.tfvars"), Path("/e/b.tfvars")], lock_timeout="30s"
    )
    assert argv[:6] == [
        "plan",
        "-input=false",
        "-no-color",
        "-json",
        "-detailed-exitcode",
        "-out=/r/p.tfplan",
    ]
    assert argv[-2:] == ["-var-file=/e/a.tfvars", "-var-file=/e/b.tfvars"]  # order kept: later files win
    assert "-lock-timeout=30s" in argv
    assert not any(a.startswith("-var=") for a in argv)


def test_plan_modes() -> None:
    assert "-destroy" in tfargs.plan_args(out=Path("p"), destroy=True)
    assert "-refresh-only" in tfargs.plan_args(out=Path("p"), refresh_only=True)
    assert "-refresh=false" in tfargs.plan_args(out=Path("p"), refresh=False)
    assert tfargs.plan_args(out=Path("p"), targets=["a.b"])[-1] == "-target=a.b"
    with pytest.raises(ValueError, match="both destroy and refresh-only"):
        tfargs.plan_args(out=Path("p"), destroy=True, refresh_only=True)


def test_apply_takes_only_the_saved_plan() -> None:
    assert tfargs.apply_args(Path("/r/p.tfplan")) == [
        "apply",
        "-input=false",
        "-no-color",
        "-json",
        "/r/p.tfplan",
    ]


def test_destroy_show_output_state_version() -> None:
    assert tfargs.destroy_args(var_files=[Path("x.tfvars")]) == [
        "destroy",
        "-input=false",
        "-no-color",
        "-json",
        "-auto-approve",
        "-var-file=x.tfvars",
    ]
    assert tfargs.show_plan_args(Path("p")) == ["show", "-json", "-no-color", "p"]
    assert tfargs.output_args() == ["output", "-json", "-no-color"]
    assert tfargs.state_pull_args() == ["state", "pull"]
    assert tfargs.version_args() == ["version", "-json"]
    assert tfargs.validate_args() == ["validate", "-json", "-no-color"]
