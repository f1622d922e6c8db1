"""A real PostgreSQL 15 server for the tests: a throwaway cluster on a temporary folder,
reached only through a Unix socket there (no TCP port), started with the server's own tools
(``initdb``, ``pg_ctl``) and stopped at the end of the session.

A server refuses to run as root: when the tests run as root (as CI does), the cluster belongs
to the ``postgres`` user, or to a ``twdsl-pg`` system user created for it.  Set
``TWDSL_TEST_POSTGRES`` to the URL of a server to use instead (the tests create and drop
databases on it).  ``.ci/setup-postgres`` installs the server when it is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV = "TWDSL_TEST_POSTGRES"
USERS = ("postgres", "twdsl-pg")


class Unavailable(Exception):
    """The server cannot be had here: why, and what to do."""


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).is_file():
            return str(d / name)
    raise Unavailable(f"PostgreSQL's {name} is not installed (Debian: apt-get install "
                      "postgresql-15; CI runs .ci/setup-postgres)")


def _user() -> pwd.struct_passwd | None:
    """The unprivileged user the server runs as (None: not root, run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USERS[1]], capture_output=True, text=True)
    if r.returncode != 0:
        raise Unavailable(f"cannot create the user {USERS[1]} to run PostgreSQL as: "
                          f"{r.stderr.strip()}")
    return pwd.getpwnam(USERS[1])


class Server:
    """A PostgreSQL server: ``url(db)`` for a database, ``new_database()`` for a fresh one."""

    def __init__(self, base: str, folder: Path | None = None,
                 user: pwd.struct_passwd | None = None) -> None:
        self.base = base  # the URL of its maintenance database
        self.folder = folder
        self.user = user
        self.counter = itertools.count(1)

    def url(self, database: str) -> str:
        """The URL of another database of the server (``base`` is a postgresql:// URL)."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.base)
        return urlunsplit(parts._replace(path="/" + database))

    def new_database(self) -> str:
        import psycopg

        name = f"twdsl_test_{os.getpid()}_{next(self.counter)}"
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if data.exists():
            subprocess.run([_tool("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, user=self.user.pw_uid if self.user else None,
                           cwd=self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


def start() -> Server:
    """Start a throwaway cluster (or use $TWDSL_TEST_POSTGRES)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed: pip install -e '.[dev]'") from None
    if os.environ.get(ENV):
        return Server(os.environ[ENV])
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    user = _user()
    folder = Path(tempfile.mkdtemp(prefix="twdsl-pg-"))
    as_user = {}
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid}
    data = folder / "data"
    r = subprocess.run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E",
                        "UTF8", "--locale=C", "--no-sync"], capture_output=True, text=True,
                       cwd=folder, **as_user)  # type: ignore[call-overload]
    if r.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
    options = (f"-c listen_addresses='' -k {folder} -p 5432 -c fsync=off "
               "-c full_page_writes=off -c max_connections=200")
    r = subprocess.run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"),
                        "-w", "-t", "60", "start"], capture_output=True, text=True,
                       cwd=folder, **as_user)  # type: ignore[call-overload]
    if r.returncode != 0:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"the PostgreSQL server did not start: {r.stderr.strip()} {log}")
    server = Server(f"postgresql://postgres@/postgres?host={folder}&port=5432", folder, user)
    atexit.register(server.stop)
    return server


_SERVER: list[Server | Unavailable] = []


def server() -> Server:
    """The session's server, started on first use; a test that needs it fails in CI when
    it cannot be had, and is skipped with the reason elsewhere."""
    if not _SERVER:
        try:
            _SERVER.append(start())
        except Unavailable as e:
            _SERVER.append(e)
    found = _SERVER[0]
    if isinstance(found, Unavailable):
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed and missing: {found}")
        pytest.skip(f"PostgreSQL is not available: {found}")
    return found


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    s = server()
    yield s


@pytest.fixture
def pg_url(postgres: Server) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.new_database()
