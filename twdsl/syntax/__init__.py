"""Syntax: grammar loading, lexing, parsing with recovery, the AST and its structure checks."""
