"""``twdsl server``: the HTTP API, the web UI, the scheduler and the notifier in one process
(docs/server.md).

A front door like the CLI: it uses the compiler's public API, the runtime and the state
store's interface.  Its own persistence (tokens, deployed versions, schedules and fires,
notification rules) is :mod:`twdsl.server.db`; runs, events and statistics are read through
``twdsl.runtime.store.Store``.  Import :func:`twdsl.server.app.create_app` for the ASGI app.
"""
