"""Functions a test runs in an isolated parse process: this module imports nothing heavy, so the
child starts fast."""

from __future__ import annotations

from pathlib import Path


def allocate(size: int) -> int:
    return len(bytearray(size))


def wait_for(path: str) -> str:
    """Stands for a slow parse: done when the test says so."""
    while not Path(path).exists():
        Path(path).parent.stat()  # a cheap system call between looks
    return Path(path).read_text()
