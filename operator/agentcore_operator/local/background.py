"""Serve an asyncio server in a background thread, for tests, benchmarks and the demo.

The caller's thread stays free for blocking work (boto3, kubectl, polling), as a user's
terminal is separate from the servers it talks to.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def serving_in_thread(
    serve: Callable[[], AbstractAsyncContextManager[T]], name: str, timeout: float = 30.0
) -> Iterator[tuple[T, asyncio.AbstractEventLoop]]:
    """Enter `serve()` on a fresh loop in a daemon thread; yield what it yields and the loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: list[asyncio.Event] = []
    served: list[T] = []
    errors: list[BaseException] = []

    async def run() -> None:
        stop.append(asyncio.Event())
        async with serve() as value:
            served.append(value)
            started.set()
            await stop[0].wait()

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run())
        except BaseException as exc:
            errors.append(exc)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    started.wait(timeout)
    if errors or not served:
        raise RuntimeError(f"{name} did not start: {errors or 'timed out'}")
    try:
        yield served[0], loop
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
