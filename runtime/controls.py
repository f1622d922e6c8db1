"""Control requests on a run this process executes: `twdsl runs cancel|pause` and the server's
API leave them in the state store (docs/state.md), and the process running the run carries
them out (`twdsl run` and the server through :func:`watch_controls`; a `twdsl worker` looks
for the requests of all its runs at once)."""

from __future__ import annotations

import asyncio
from typing import Any

from twdsl.runtime.engine import Engine
from twdsl.runtime.store import Store

CONTROL_POLL = 0.1  # seconds between looks at a run's control requests


async def watch_controls(store: Store, run_id: str, engine: Engine, main: asyncio.Future[Any],
                         poll: float = CONTROL_POLL) -> None:
    """Until ``main`` (the engine's run) is done: each request marked handled, then a cancel
    cancels the run and a pause pauses it (attempts in flight finish); either ends the watch."""
    while not main.done():
        await asyncio.sleep(poll)
        for req in await asyncio.to_thread(store.pending_controls, run_id):
            await asyncio.to_thread(store.mark_handled, req.id)
            if req.command == "cancel":
                main.cancel()
                return
            if req.command == "pause":
                await engine.pause(main)
                return
