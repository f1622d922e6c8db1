"""Lowering: the checked AST of one workflow to the IR (being built)."""
