"""Time-outs measured as the server lived them: wall time less the time the machine kept this
process's event loop waiting for a CPU.

A test that checks "503 within 5 s" runs the server and its client in one event loop. On a busy CI
machine (another worker's browser and server, the type checker) that loop can wait for a CPU for
most of a second: the server's timer then fires late through no fault of its own (CI once saw
/healthz answer after 2 s, where it answers in 1.1 s here). The kernel counts that wait for each
thread (``run_delay`` in /proc/thread-self/schedstat), and ``RunningTime`` leaves it out. Time the
loop spent busy, or blocked in a call (a sleep, a socket that does not answer), is the server's own
and counts. Without that file (not Linux), the wall time counts whole.
"""

from __future__ import annotations

import time
from pathlib import Path

SCHEDSTAT = Path("/proc/thread-self/schedstat")


def _waited_for_cpu() -> float:
    """Seconds this thread has spent ready to run but not running (0 where the kernel does not say)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class RunningTime:
    """Started when made; read on the event loop's thread (the one whose waits it leaves out)."""

    def __init__(self) -> None:
        self.started, self.waited = time.monotonic(), _waited_for_cpu()

    def seconds(self) -> float:
        """Since the start, less the time the machine kept this thread waiting for a CPU."""
        return time.monotonic() - self.started - (_waited_for_cpu() - self.waited)
