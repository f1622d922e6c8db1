"""The TWDSL language server (installed as ``twdsl.lsp``).

Not built yet: issue 7 builds it on the analysis API in :mod:`twdsl.analysis`.
"""
