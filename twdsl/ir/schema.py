"""The JSON Schema of the IR (a Program): ``python -m twdsl.ir.schema > docs/ir.schema.json``.

Generated from the pydantic models, so it cannot drift from them; tests/test_lowering.py
checks that the committed file is up to date.
"""

from __future__ import annotations

import json
from typing import Any

from twdsl.ir.model import IR_VERSION, Program

SCHEMA_COMMAND = "python -m twdsl.ir.schema > docs/ir.schema.json"


def schema() -> dict[str, Any]:
    """The schema of :class:`Program`, with its id, title and version."""
    out = Program.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://twdsl.dev/schema/ir-{IR_VERSION}.json",
        "$comment": f"Generated from twdsl/ir/model.py by: {SCHEMA_COMMAND}",
        **{k: v for k, v in out.items() if k != "title"},
        "title": f"TWDSL IR, version {IR_VERSION}",
    }


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())
