"""Semantics: names and scopes, the dependency graph (and, next, modules and types)."""
