"""The language server's garbage collector: off while the user types, collected and back on
once the editor is idle (lsp/server.py, ``_idle_collect``)."""

from __future__ import annotations

import asyncio
import gc

from twdsl.lsp.server import TwdslServer


def test_idle_collect_turns_the_collector_back_on() -> None:
    async def go() -> tuple[bool, bool]:
        server = TwdslServer()
        gc.disable()
        server._idle_collect()
        return gc.isenabled(), server._gc_timer is None

    try:
        assert asyncio.run(go()) == (True, True)
    finally:
        gc.enable()


def test_idle_collect_waits_while_an_analysis_is_pending() -> None:
    async def go() -> tuple[bool, bool, bool]:
        server = TwdslServer()
        loop = asyncio.get_running_loop()
        server.timers["file:///a.twdsl"] = loop.call_later(60, lambda: None)  # debouncing
        gc.disable()
        server._idle_collect()
        waiting = (gc.isenabled(), server._gc_timer is not None)
        server.timers.pop("file:///a.twdsl").cancel()
        assert server._gc_timer is not None
        server._gc_timer.cancel()
        server._idle_collect()  # the edit was analysed: idle now
        return (*waiting, gc.isenabled())

    try:
        assert asyncio.run(go()) == (False, True, True)
    finally:
        gc.enable()
