"""Where the state store is, found the same way by every command (docs/state.md, "Where the
store is"), and opening it: a ``postgresql://`` URL is a PostgreSQL store, anything else the
path of a SQLite file.

    >>> locate(None, None, None, None, Path("/nowhere")).target
    '/nowhere/.twdsl/state.db'
    >>> locate("postgresql://u:secret@db/runs", None, None, None, Path("/")).shown
    'postgresql://u:***@db/runs'
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twdsl.runtime.store.base import Store, StoreError

SCHEMES = ("postgresql://", "postgres://")
DEFAULT = Path(".twdsl") / "state.db"


def is_url(where: str | os.PathLike[str]) -> bool:
    return str(where).startswith(SCHEMES)


def has_scheme(where: str) -> bool:
    """Whether ``where`` is written as a URL (``scheme://``), of any scheme."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", where) is not None


def redact(where: str) -> str:
    """A store's name for messages: a URL's password hidden.

    >>> redact("postgresql://ada:pw@host:5432/db?sslmode=require&password=x")
    'postgresql://ada:***@host:5432/db?sslmode=require&password=***'
    """
    if not is_url(where):
        return where
    where = re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", where)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", where)


def check_target(where: str | os.PathLike[str]) -> None:
    """Raise StoreError, saying why, when ``where`` cannot be a store: a URL of another
    scheme (it would be taken for a relative path), an empty path, a folder, a device, a
    pipe or a socket (SQLite would write its journal beside it), or a path under a file."""
    text = str(where)
    if is_url(text) or text == ":memory:":
        return
    if not text.strip():
        raise StoreError("the state store's path is empty: give a SQLite file's path or a "
                         "postgresql:// URL")
    if has_scheme(text):
        raise StoreError(f"'{redact(text)}' is not a state store: give a SQLite file's path "
                         "or a postgresql:// URL")
    path = Path(text)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(f"{text} cannot be created: {parent} is a file, not a "
                                     "folder") from None
                break
        return
    except OSError as e:
        raise StoreError(f"cannot use {text} as the state store: {e.strerror}") from None
    if stat.S_ISDIR(mode):
        raise StoreError(f"{text} is a folder; the state store is a SQLite file in it, such "
                         f"as {path / 'state.db'}")
    if not stat.S_ISREG(mode):
        raise StoreError(f"{text} is not a regular file (a device, a pipe or a socket); the "
                         "state store is a SQLite file")


def open_store(where: str | os.PathLike[str], **options: Any) -> Store:
    """The store at ``where``: a PostgreSQL URL or a SQLite file (created on first use);
    StoreError when it cannot be one (:func:`check_target`) or cannot be opened."""
    check_target(where)
    if is_url(where):
        from twdsl.runtime.store.postgres import PostgresStore

        return PostgresStore(str(where), **options)
    from twdsl.runtime.store.sqlite import SQLiteStore

    return SQLiteStore(where, **options)


@dataclass(frozen=True)
class Location:
    """A store found by :func:`locate`: ``target`` (a path or a URL), ``reason`` (how it was
    chosen, for messages), whether it exists yet, and the folders looked in."""

    target: str
    reason: str
    exists: bool
    looked: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        return redact(self.target)


def locate(flag: str | None, env: str | None, config_file: Path | None,
           config_state: str | None, cwd: Path) -> Location:
    """The store, by the first rule that gives one:

    1. ``--state`` (``flag``), 2. ``$TWDSL_STATE`` (``env``);
    3. with a configuration file (found from the workflow for ``twdsl run``, from the current
       folder for the other commands): its ``[run] state`` (relative to its folder), else
       ``.twdsl/state.db`` beside it;
    4. the nearest ``.twdsl/state.db`` in the current folder or one above it;
    5. ``.twdsl/state.db`` in the current folder (``twdsl run`` creates it there).
    """
    if flag:
        return _at(flag, "--state")
    if env:
        return _at(env, "$TWDSL_STATE")
    if config_file is not None:
        if config_state:
            target = config_state if has_scheme(config_state) else str(
                config_file.parent / config_state)
            return _at(target, f"[run] state in {config_file}")
        return _at(str(config_file.parent / DEFAULT), f"beside {config_file}")
    here = cwd.resolve()
    looked = []
    for folder in (here, *here.parents):
        looked.append(str(folder))
        candidate = folder / DEFAULT
        if candidate.is_file():
            return Location(str(candidate), "the nearest .twdsl/state.db", True)
    return Location(str(here / DEFAULT), "in the current folder", False, tuple(looked))


def _at(target: str, reason: str) -> Location:
    return Location(target, reason, True if is_url(target) else Path(target).exists())
