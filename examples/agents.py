"""Agents for the examples in this folder, bound in twdsl.toml beside them.

They do small, real, deterministic work (no network, no randomness) so that every example
runs anywhere: ``twdsl run examples/create_full_stack_app.twdsl --inputs-file
examples/create_full_stack_app.inputs.json``.  Real agents would call code generators, test
runners and deployment APIs; the shapes of their inputs and results are the same.
"""

from __future__ import annotations

import hashlib
from typing import Any


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


def ui_selection(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Generates the frontend: a build path named after the framework and features."""
    return {"build_path": f"build/frontend-{input['framework']}-"
                          f"{_digest(input['features'])}"}


def backend(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"build_path": f"build/backend-{input['framework']}-{input['database']}-"
                          f"{_digest(input['features'])}"}


def integration_tests(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Passes when both builds exist (have a path); lists what is missing otherwise."""
    errors = [f"{side} has no build" for side in ("frontend_output", "backend_output")
              if not (input.get(side) or {}).get("build_path")]
    return {"passed": not errors, "errors": errors}


def deploy(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    slug = _digest(input["frontend"], input["backend"])
    return {"url": f"https://app-{slug}.example.test",
            "docs_url": f"https://app-{slug}.example.test/docs", "status": "deployed"}


def notify(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"sent": True}


def test_generation(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"test_path": f"tests/test_{input['feature_name']}.py"}
