"""Editor features computed on the analysis API, in core types (spans, offsets, 1-based lines).

The language server (``twdsl.lsp``) fetches documents, calls these, and converts the answers
to the protocol; nothing here knows the protocol.
"""

from __future__ import annotations

from twdsl.ide.completion import Item, complete
from twdsl.ide.info import (
    CodeAction,
    Fold,
    Hover,
    InlayHint,
    SemanticToken,
    SignatureHelp,
    code_actions,
    folding_ranges,
    format_edits,
    hover,
    inlay_hints,
    semantic_tokens,
    signature_help,
)
from twdsl.ide.navigate import (
    RenameError,
    Workspace,
    definition,
    document_symbols,
    highlights,
    prepare_rename,
    references,
    rename,
    workspace_symbols,
)
from twdsl.ide.snapshot import Snapshot, analyze_documents, snapshot
from twdsl.ide.symbols import Symbol

__all__ = [
    "CodeAction", "Fold", "Hover", "InlayHint", "Item", "RenameError", "SemanticToken",
    "SignatureHelp", "Snapshot", "Symbol", "Workspace", "analyze_documents", "code_actions",
    "complete", "definition", "document_symbols", "folding_ranges", "format_edits", "highlights",
    "hover", "inlay_hints", "prepare_rename", "references", "rename", "semantic_tokens",
    "signature_help", "snapshot", "workspace_symbols",
]
