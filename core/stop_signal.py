"""Stopping a long run cleanly: SIGTERM or Ctrl-C becomes a flag that the training loop checks
between steps, so that it saves its state and exits instead of dying in the middle of a write."""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """`with StopSignal() as stop:` ... `if stop.requested:` save and leave.

    The handlers are installed only in the main thread (elsewhere `signal.signal` raises, and the
    flag stays False) and the previous ones are restored on leaving the block.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._request) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _request(self, signum, frame) -> None:
        self.requested = True  # only a flag: printing here could interrupt a print in progress
