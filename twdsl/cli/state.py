"""One way to find and open the state store, for every command (docs/state.md, "Where the
store is"): ``--state``, ``$TWDSL_STATE``, the configuration's store, the nearest
``.twdsl/state.db`` from the current folder up, else a new one in the current folder.  The
rule itself is ``twdsl.runtime.store.locate``; here it meets the configuration and the
command line's messages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from twdsl.cli.common import EXIT_USAGE
from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config

STATE_HELP = ("The state store: a SQLite file or a postgresql:// URL (default: $TWDSL_STATE, "
              "else the configuration's, else the nearest .twdsl/state.db; docs/state.md).")


_OPENED: list[Any] = []


class StateStop(Exception):
    """The store cannot be found or opened: the message, and exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = EXIT_USAGE
        self.message = message


def here_config() -> Config:
    """The configuration that applies to the current folder."""
    found = find_config(Path.cwd())
    if found is None:
        return DEFAULT
    try:
        return load_config(found)
    except ConfigError as e:
        raise StateStop(f"twdsl: {e}") from None


def location(flag: str | None, config: Config) -> Any:
    """Where the store is; StateStop when what names it (``--state``, ``$TWDSL_STATE``, the
    configuration) names no possible store."""
    from twdsl.runtime.store import StoreError
    from twdsl.runtime.store.locate import check_target, locate

    if flag is not None and not flag.strip():
        raise StateStop("twdsl: --state is empty: give a SQLite file's path or a "
                        "postgresql:// URL (or leave --state out)")
    loc = locate(flag, os.environ.get("TWDSL_STATE") or None, config.path,
                 config.run.get("state"), Path.cwd())
    try:
        check_target(loc.target)
    except StoreError as e:
        raise StateStop(f"twdsl: {e} ({loc.reason})") from None
    return loc


def open_state(flag: str | None, config: Config | None = None, *, create: bool = False,
               hint: str = "", announce: bool = True) -> Any:
    """The store for a command: ``config`` is the configuration that applies (the
    workflow's for ``twdsl run``; the current folder's when None).  Without ``create``, a
    store that does not exist yet is an error saying where it was looked for; with it, a new
    store is announced on stderr (unless ``announce`` is false: stderr carries JSON)."""
    from twdsl.runtime.store import StoreError, open_store

    config = here_config() if config is None else config
    loc = location(flag, config)
    if not loc.exists and not create:
        raise StateStop(_none_found(loc))
    if not loc.exists and announce:
        click.echo(f"twdsl: recording to a new state store {loc.shown} ({loc.reason})",
                   err=True)
    try:
        store = open_store(loc.target)
    except StoreError as e:
        raise StateStop(f"twdsl: {e}{hint}") from None
    _OPENED.append(store)
    return store


def report_problems() -> None:
    """Say on stderr what the stores this command opened found damaged (each once)."""
    seen: set[str] = set()
    for store in _OPENED:
        for problem in store.problems:
            if problem not in seen:
                seen.add(problem)
                click.echo(f"twdsl: warning: {problem}", err=True)
        store.problems.clear()


def _none_found(loc: Any) -> str:
    if loc.looked:
        where = (f"no .twdsl/state.db in {loc.looked[0]} nor in a folder above it, and no "
                 "twdsl.toml")
    else:
        where = f"nothing at {loc.shown} ({loc.reason})"
    return (f"twdsl: no state store found: {where}; nothing has run here yet, or pass "
            "--state PATH|URL or set TWDSL_STATE")
