"""``twdsl token create|list|revoke``: the API tokens of ``twdsl server``, kept (hashed) in
the state store's database (docs/server.md, "Tokens and roles").

Exit codes: 0 done, 1 no such token, 2 usage (a database that cannot be opened included).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from twdsl.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE

STATE_HELP = ("The state store: a SQLite file or a postgresql:// URL (default: "
              "$TWDSL_STATE, else the configuration's, else the nearest .twdsl/state.db, "
              "else one in the current folder).")


def open_server_db(state: str | None) -> Any:
    """The server's tables in the state store, found as every command finds it
    (twdsl.cli.state; created on first use)."""
    from twdsl.cli.state import StateStop, here_config, location
    from twdsl.server.db import ServerDBError, open_db

    try:  # (another program's database is refused, as the state store refuses it)
        return open_db(location(state, here_config()).target)
    except StateStop as stop:
        click.echo(stop.message, err=True)
        sys.exit(stop.code)
    except ServerDBError as e:
        click.echo(f"twdsl: {e}", err=True)
        sys.exit(EXIT_USAGE)
    except OSError as e:
        click.echo(f"twdsl: cannot open the state store: {e.strerror or e}", err=True)
        sys.exit(EXIT_USAGE)


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@click.group("token")
def token_group() -> None:
    """API tokens of `twdsl server`: create (shown once), list, revoke."""


def token_name(name: str | None) -> str | None:
    """``--name`` as the API takes it: 1 to NAME_MAX characters, not only blanks (an empty
    name, a shell variable left unset, was taken for the role)."""
    from twdsl.server.auth import NAME_MAX

    if name is not None and (not name.strip() or len(name) > NAME_MAX):
        raise click.BadParameter(f"give a name of 1 to {NAME_MAX} characters, not only "
                                 f"blanks (got {len(name)})", param_hint="'--name'")
    return name


@token_group.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True,
              help="viewer reads; operator also runs and controls runs; admin also deploys "
                   "and manages tokens and notifications.")
@click.option("--name", default=None, callback=lambda ctx, param, value: token_name(value),
              help="Who or what uses it (default: the role).")
@click.option("--state", "state", default=None, help=STATE_HELP)
def token_create(role: str, name: str | None, state: str | None) -> None:
    """Make a token and print it (the only time it is shown: only its hash is kept)."""
    from twdsl.server.auth import create_token

    db = open_server_db(state)
    text, record = create_token(db, name or role, role)
    click.echo(text)
    click.echo(f"twdsl: token {record.id} ({record.role}, '{record.name}') created; keep it "
               "now, it is not shown again", err=True)
    sys.exit(EXIT_OK)


@token_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--all", "show_all", is_flag=True, help="Revoked tokens too.")
@click.option("--state", "state", default=None, help=STATE_HELP)
def token_list(fmt: str, show_all: bool, state: str | None) -> None:
    """List tokens (ids, names, roles; never their secrets)."""
    db = open_server_db(state)
    tokens = [t for t in db.list_tokens() if show_all or t.active]
    if fmt == "json":
        click.echo(json.dumps([{"id": t.id, "name": t.name, "role": t.role,
                                "created_at": t.created_at, "last_used_at": t.last_used_at,
                                "revoked_at": t.revoked_at} for t in tokens], indent=2))
        sys.exit(EXIT_OK)
    if not tokens:
        click.echo("no tokens")
        sys.exit(EXIT_OK)
    rows = [("ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")]
    rows += [(t.id, t.name, t.role, _when(t.created_at), _when(t.last_used_at),
              _when(t.revoked_at)) for t in tokens]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    sys.exit(EXIT_OK)


@token_group.command("revoke")
@click.argument("token_id")
@click.option("--state", "state", default=None, help=STATE_HELP)
def token_revoke(token_id: str, state: str | None) -> None:
    """Revoke a token (by its id, or the whole token): its requests and UI sessions end at
    once."""
    db = open_server_db(state)
    if token_id.startswith("twdsl_"):
        token_id = token_id.split("_")[1] if token_id.count("_") >= 2 else token_id
    if not db.revoke_token(token_id):
        click.echo(f"twdsl: no active token {token_id!r} (`twdsl token list` shows them)",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo(f"twdsl: token {token_id} revoked")
    sys.exit(EXIT_OK)
