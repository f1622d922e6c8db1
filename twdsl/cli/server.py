"""``twdsl server``: the HTTP API, the web UI, the scheduler and the notifier in one process,
on the state store of the CLI, SQLite or PostgreSQL (docs/server.md).  On SQLite it runs the
runs it accepts itself; on PostgreSQL they wait in a queue for ``twdsl worker``s (and for the
server itself with ``--execute``).

Exit codes: 0 stopped cleanly (Ctrl-C, SIGTERM), 2 a usage error (the port is taken, the
state file or the configuration cannot be used).
"""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import click

from twdsl.cli.common import EXIT_OK, EXIT_USAGE, FiniteRange, fail
from twdsl.cli.state import STATE_HELP
from twdsl.cli.submit import queue_name


def _queue(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return None if value is None else queue_name(ctx, param, value)


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put TLS in front).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port (0: any free one, printed).")
@click.option("--state", "state", default=None, metavar="PATH|URL", help=STATE_HELP)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The twdsl.toml whose agents runs use (default: the nearest one).")
@click.option("--execute/--no-execute", "execute", default=None,
              help="Whether this server executes runs (default: on SQLite it runs what it "
                   "accepts; on PostgreSQL runs wait in a queue for `twdsl worker`s, and "
                   "--execute makes this server one of them).  --no-execute on SQLite "
                   "queues them for workers.")
@click.option("--queue", "-q", default=None, callback=_queue,
              help="The queue runs wait in when they are queued (default: default).")
@click.option("--max-runs", type=click.IntRange(1), default=4, show_default=True,
              help="Runs this server executes at once; the others wait in order.")
@click.option("--max-body", type=click.IntRange(1024), default=1 << 20, show_default=True,
              help="Largest request body in bytes (deploys: 8 times this).")
@click.option("--public-url", default=None, help="The URL people reach the UI at (links in "
              "notifications), e.g. https://twdsl.example.com.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Proxies whose X-Forwarded-For/-Proto headers are believed.")
@click.option("--secure-cookies", is_flag=True, help="Mark the session cookie Secure (behind "
              "a TLS proxy; automatic when the request arrives as https).")
@click.option("--missed-grace", type=FiniteRange(0), default=60.0, show_default=True,
              help="Seconds after its time an occurrence still counts as on time.")
@click.option("--no-scheduler", is_flag=True, help="Fire no schedule (another server does).")
@click.option("--log-level", type=click.Choice(["warning", "info", "debug"]),
              default="warning", show_default=True)
def server_command(host: str, port: int, state: str | None, config_path: str | None,
                   execute: bool | None, queue: str | None, max_runs: int, max_body: int,
                   public_url: str | None,
                   forwarded_allow_ips: str, secure_cookies: bool, missed_grace: float,
                   no_scheduler: bool, log_level: str) -> None:
    """Serve the HTTP API and the web UI, fire schedules and send notifications."""
    import uvicorn

    from twdsl.cli.state import StateStop, location
    from twdsl.config import DEFAULT, ConfigError, find_config, load_config
    from twdsl.runtime.store import DEFAULT_QUEUE, is_url
    from twdsl.server.app import create_app
    from twdsl.server.db import ServerDBError
    from twdsl.server.service import ApiError, Service, Settings

    if public_url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", public_url):
        fail(f"--public-url {public_url!r}: give the URL people open the UI at, such as "
             "https://twdsl.example.com")
    try:
        if config_path is not None:
            config = load_config(Path(config_path))
        else:
            found = find_config(Path.cwd())
            config = load_config(found) if found is not None else DEFAULT
    except ConfigError as e:
        fail(str(e))
    try:
        loc = location(state, config)
    except StateStop as stop:
        click.echo(stop.message, err=True)
        sys.exit(stop.code)
    if queue is not None and execute is not False and not is_url(loc.target):
        fail("--queue is for queued runs: on a SQLite store add --no-execute (runs then wait "
             "for `twdsl worker`s), or use a PostgreSQL store")
    settings = Settings(state=loc.target, config=config, execute=execute,
                        queue=queue or DEFAULT_QUEUE, max_runs=max_runs, max_body=max_body,
                        max_deploy_body=8 * max_body, public_url=public_url,
                        secure_cookies=secure_cookies, schedule_grace=missed_grace,
                        scheduler=not no_scheduler)
    try:
        service = Service(settings)
    except (ApiError, ServerDBError) as e:
        fail(getattr(e, "message", str(e)))
    try:
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every answer waits ~40 ms for Nagle's algorithm
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        service.stop()
        fail(f"cannot listen on {host}:{port}: {e.strerror}")
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"twdsl server: http://{shown}:{bound}/ (state {loc.shown}; "
               f"agents from {config.path or 'no twdsl.toml'})", err=True)
    click.echo(f"twdsl server: {service.mode()}", err=True)
    if not any(t.active for t in service.db.list_tokens()):
        click.echo("twdsl server: no token yet: `twdsl token create --role admin --name me` "
                   "makes one", err=True)
    app = create_app(settings, service)

    config_u = uvicorn.Config(app, log_level=log_level, proxy_headers=True,
                              forwarded_allow_ips=forwarded_allow_ips,
                              timeout_graceful_shutdown=5, access_log=log_level != "warning")
    server = uvicorn.Server(config_u)
    service.start()
    try:
        server.run(sockets=[sock])
    finally:
        service.stop()
    sys.exit(EXIT_OK)


__all__ = ["server_command", "EXIT_USAGE"]
