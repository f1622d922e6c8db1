"""``twdsl lsp``: the language server, on stdio (the default) or TCP."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True,
              help="Talk over standard input and output (the default; accepted because "
                   "editors' clients pass it).")
@click.option("--tcp", is_flag=True, help="Listen on TCP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --tcp.")
@click.option("--port", type=int, default=2087, show_default=True, help="Port for --tcp.")
def lsp_command(stdio: bool, tcp: bool, host: str, port: int) -> None:
    """Run the language server (stdio by default): see docs/editors.md."""
    if stdio and tcp:
        raise click.UsageError("--stdio and --tcp exclude each other")
    from twdsl.lsp.server import serve  # imported here: pygls costs start-up time elsewhere

    serve(tcp=tcp, host=host, port=port)
