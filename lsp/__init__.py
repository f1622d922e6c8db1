"""The TWDSL language server (installed as ``twdsl.lsp``): ``twdsl lsp`` runs
:func:`twdsl.lsp.server.serve`.  Editor features live in :mod:`twdsl.ide`; this package only
speaks the protocol (positions are converted in :mod:`twdsl.lsp.convert` alone)."""
