"""Work done ahead in a thread while the command waits on the engine, handed over when it is needed.

While the embedded engine plans, tfkit's own process only waits on its worker's pipe (the GIL released),
so work that comes after the plan and does not need it (importing the gate and loading its policies,
scanning the var files) can run on another core meanwhile. The result is a head start, never a decision:
work that failed is dropped, and the caller does it again where it always did, so its error surfaces
there unchanged. ``result`` joins the thread, and a ``with`` block joins it on the way out, so the thread
never outlives the command.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

__all__ = ["Ahead"]

_T = TypeVar("_T")


class Ahead(Generic[_T]):
    """``work`` run once in a thread of its own, from ``start`` (or the first step of ``starting_at``)."""

    def __init__(self, work: Callable[[], _T], *, name: str) -> None:
        self._work = work
        self._name = name
        self._thread: threading.Thread | None = None
        self._value: _T | None = None

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException:  # the caller does the work again and meets the error there
            self._value = None

    def start(self) -> None:
        """Begin the work (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name)
            self._thread.start()

    def starting_at(self, on_step: Callable[[str], None]) -> Callable[[str], None]:
        """A step callback that starts the work at the first step, then reports it with ``on_step``.

        An operation's first step is the engine's first command (``init``, or ``plan`` after a restored
        init), so the work runs while the caller waits on the engine instead of competing with the
        caller's own work before it.
        """

        def step(name: str) -> None:
            self.start()
            on_step(name)

        return step

    def result(self) -> _T | None:
        """Wait for the work; its value, or ``None`` when it failed or never started."""
        if self._thread is not None:
            self._thread.join()
        return self._value

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._thread.join()
