"""Deploying a workflow: a source compiled (with the server's configuration), or a compiled
program (IR JSON) validated as ``twdsl run`` validates one; its schedule read and checked by
the same rule as ``twdsl check`` (twdsl/lint/schedule.py)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twdsl.analysis import analyze
from twdsl.compiler import WorkflowChoiceError, compile_source
from twdsl.config import Config
from twdsl.diagnostics import Severity
from twdsl.ir.model import IR_VERSION, Program
from twdsl.ir.validate import IRInvariantError, validate
from twdsl.lint.schedule import ScheduleError, parse_schedule, workflow_schedules


class DeployError(Exception):
    """A deploy refused: a message, and the diagnostics (JSON) when it did not compile."""

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


@dataclass(slots=True)
class Prepared:
    program: Program
    ir: str
    sha256: str
    kind: str
    filename: str | None
    source: str | None
    schedule: str | None
    warnings: list[Any] = field(default_factory=list)


def _safe_name(filename: str | None) -> str:
    """The name diagnostics show for a deployed source: its base name only (never a path
    that would be resolved on the server)."""
    name = Path(filename or "workflow.twdsl").name
    if not name.endswith(".twdsl"):
        name += ".twdsl"
    return name


def from_source(text: str, filename: str | None, workflow: str | None,
                config: Config) -> Prepared:
    """Compile a deployed source.  Imports are read from the server's project folder (the
    folder of its configuration), never from outside it."""
    name = _safe_name(filename)
    root = config.folder.resolve()

    def load(path: str) -> str | None:
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return None
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    try:
        comp = compile_source(text, name, workflow, 1, config, load)
    except WorkflowChoiceError as e:
        raise DeployError(str(e).replace("--workflow NAME", "\"workflow\": NAME")) from None
    except IRInvariantError as e:  # a compiler bug: said as such
        raise DeployError(f"internal error of the compiler (please report it): {e}") from None
    errors = [d.to_json() for d in comp.diagnostics if d.severity is Severity.ERROR]
    warnings = [d.to_json() for d in comp.diagnostics if d.severity is not Severity.ERROR]
    if comp.program is None:
        raise DeployError(f"{name}: {len(errors)} error{'s' if len(errors) != 1 else ''}; "
                          "nothing was deployed", errors)
    program = comp.program
    schedule = workflow_schedules(analyze(text, name, config).module).get(program.workflow)
    ir = program.to_json()
    return Prepared(program, ir, hashlib.sha256(ir.encode()).hexdigest(), "source", name,
                    text, schedule, warnings)


def from_ir(ir: Any, schedule: str | None) -> Prepared:
    """A compiled program, given as its JSON text or as the object.  The IR carries no
    schedule: the deploy request names it."""
    text = ir if isinstance(ir, str) else json.dumps(ir)
    try:
        version = json.loads(text).get("ir_version")
    except (ValueError, AttributeError):
        raise DeployError("ir: not a JSON object (a program from `twdsl compile`)") from None
    if version != IR_VERSION:
        raise DeployError(f"ir: a program of IR version {version}; this server runs version "
                          f"{IR_VERSION}: compile it again with `twdsl compile`")
    try:
        program = Program.from_json(text)
    except ValidationError as e:
        first = e.errors()[0]
        raise DeployError(f"ir: not a compiled TWDSL program: {first['msg']} at "
                          f"{'.'.join(map(str, first['loc']))}") from None
    try:
        validate(program, after="deploying")
    except IRInvariantError as e:
        raise DeployError(f"ir: {e}") from None
    if schedule is not None:
        check_schedule(schedule)
    canonical = program.to_json()
    return Prepared(program, canonical, hashlib.sha256(canonical.encode()).hexdigest(), "ir",
                    None, None, schedule)


def check_schedule(text: str) -> None:
    try:
        parse_schedule(text)
    except ScheduleError as e:
        raise DeployError(f"schedule {text!r}: {e.message} (at characters "
                          f"{e.start + 1}-{max(e.end, e.start + 1)})") from None
