"""``twdsl lsp``: the language server, on stdio (the default) or TCP."""

from __future__ import annotations

import socket
import sys

import click

from twdsl.cli.common import fail


@click.command("lsp")
@click.option("--stdio", is_flag=True,
              help="Talk over standard input and output (the default; accepted because "
                   "editors' clients pass it).")
@click.option("--tcp", is_flag=True, help="Listen on TCP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --tcp.")
@click.option("--port", type=click.IntRange(0, 65535), default=2087, show_default=True,
              help="Port for --tcp.")
@click.pass_context
def lsp_command(ctx: click.Context, stdio: bool, tcp: bool, host: str, port: int) -> None:
    """Run the language server (stdio by default): see docs/editors.md."""
    if stdio and tcp:
        raise click.UsageError("--stdio and --tcp exclude each other")
    if not tcp:
        for name in ("host", "port"):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                raise click.UsageError(f"--{name} is for --tcp (add --tcp to listen on TCP; "
                                       "without it the server talks over stdio)")
    if not tcp and sys.stdin.isatty():
        fail("twdsl lsp speaks the Language Server Protocol on stdin and stdout: start it "
             "from an editor (docs/editors.md), or listen with --tcp", prefix="")
    if tcp:
        try:  # said in words now: the server itself would fail with a trace
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        except OSError as e:
            fail(f"cannot listen on {host}:{port}: {e.strerror}")
    from twdsl.lsp.server import serve  # imported here: pygls costs start-up time elsewhere

    serve(tcp=tcp, host=host, port=port)
