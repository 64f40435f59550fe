"""Running a parser of untrusted files away from the event loop, with hard limits.

A file a member sends can be made to cost far more than its size (a spreadsheet whose 0.4 MB
unpack to 400 MB, a sheet of 300,000 rows). The parse runs in a child process of its own, with its
address space capped (``RLIMIT_AS``) and a deadline after which it is killed, while the server goes
on answering everyone else. The child is forked from a small fork server, not from the server
process itself, so it inherits none of the server's threads, connections or locks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024  # the parse's whole address space, interpreter included
DEFAULT_SECONDS = 30.0
# Imported once by the fork server, so that each parse starts without importing its parser again.
PRELOAD = ["openpyxl", "models.roster_files"]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)


class LimitExceeded(Exception):
    """The parse ran out of memory or time, or died: the file is too complex to read here."""


def _child(connection: Connection, function: Callable[..., Any], args: tuple[Any, ...], memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        result: tuple[str, Any] = ("ok", function(*args))
    except MemoryError:
        result = ("limit", "memory")
    except Exception as error:  # handed to the caller, who decides what it means
        result = ("error", error)
    try:
        connection.send(result)
    except MemoryError:
        connection.send(("limit", "memory"))
    finally:
        connection.close()


def _run(function: Callable[..., Any], args: tuple[Any, ...], memory: int, seconds: float) -> tuple[str, Any]:
    """In a thread of the server: start the child, wait for its answer or the deadline."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(target=_child, args=(sender, function, args, memory), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            return ("limit", "time")
        return receiver.recv()  # type: ignore[no-any-return]
    except (EOFError, OSError):
        return ("limit", "died")  # killed by the kernel, or crashed
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()


async def run_limited(
    function: Callable[..., T],
    *args: Any,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
    seconds: float = DEFAULT_SECONDS,
) -> T:
    """``function(*args)`` in a child process with at most ``memory_bytes`` of address space and
    ``seconds`` of time. Its exceptions are raised here; LimitExceeded when a limit was hit.
    ``function``, its arguments, its result and its exceptions must be picklable."""
    kind, value = await asyncio.to_thread(_run, function, args, memory_bytes, seconds)
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "error":
        raise value
    raise LimitExceeded(value)
