"""The language-server test client both LSP test files use: a real `twdsl lsp` subprocess
driven by pytest-lsp."""

from __future__ import annotations

import sys

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features


def make_client() -> LanguageClient:
    """pytest-lsp's test client, also keeping every publishDiagnostics in arrival order
    (waiting for the next notification could miss one that arrived with another), and
    accepting the server's dynamic registrations (kept in ``client.registrations``)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]
    client.registrations = []  # type: ignore[attr-defined]

    def publish(client: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)  # type: ignore[attr-defined]

    def register(client: LanguageClient, params: lsp.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)  # type: ignore[attr-defined]

    register_lsp_features(
        client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
                 lsp.CLIENT_REGISTER_CAPABILITY: register}
    )
    return client


SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "twdsl.cli", "lsp"], client_factory=make_client
)
