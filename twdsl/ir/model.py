"""The IR: what runs.  Plain, versioned, JSON-serializable data (pydantic models).

A :class:`Program` is one workflow, templates expanded and imports linked.  Its nodes sit in
one table (``Program.nodes``, id → node) and form a tree of control nodes:

* a :class:`BlockNode` holds children that run by their ``after`` edges (a ``sequence`` is a
  chain of edges, a ``parallel`` has none but those data imposes);
* :class:`TaskNode`, :class:`IfNode`, :class:`SwitchNode`, :class:`ForeachNode`,
  :class:`WhileNode`, :class:`BreakNode`, :class:`ContinueNode` are the children.

Every non-root node has ``after``: ids of *siblings* (children of the same block) it waits
for.  Those edges are the whole ordering: the written order where the language fixes it,
``depends`` and chains, and data (a node that reads a task waits for the sibling that holds
it).  Expressions are trees of :mod:`twdsl.ir.expr` nodes, run by the sandboxed evaluator in
:mod:`twdsl.ir.eval`, never by Python's ``eval``.  Durations are seconds (floats).

docs/ir.md describes it; ``python -m twdsl.ir.schema`` writes its JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twdsl.ir.expr import Expr
from twdsl.lang import retry as R
from twdsl.lang.kinds import RETRIED_KINDS, ErrorKind

#: Bumped on every change that an older executor could misread.
IR_VERSION = 3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SourceRef(_Model):
    """Where a node was written: 1-based line and column, like diagnostics."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# -- types ------------------------------------------------------------------------------

class TypeRef(_Model):
    """A declared type, for validating inputs and results at run time.

    ``kind`` is a primitive (``string number boolean null any object datetime duration file
    url``), or ``array`` (``of``), ``optional`` (``of``) or ``record`` (``fields``).
    """

    kind: str
    of: TypeRef | None = None
    fields: dict[str, TypeRef] | None = None

    def __str__(self) -> str:
        if self.kind == "array":
            return f"array<{self.of}>"
        if self.kind == "optional":
            return f"{self.of}?"
        if self.kind == "record":
            return "{ " + ", ".join(f"{k}: {v}" for k, v in (self.fields or {}).items()) + " }"
        return self.kind


# -- policies ---------------------------------------------------------------------------

ErrorKindName = ErrorKind  # the error kinds of the language (twdsl.lang.kinds)
Outcome = Literal["fail", "skip", "continue"]


class RetryPolicy(_Model):
    """docs/language.md, retry: the wait before retry n is :func:`twdsl.lang.retry.wait`
    (``min(max_delay, delay × backoff^(n−1))``), then full jitter when ``jitter``."""

    attempts: int = R.DEFAULT_ATTEMPTS  # retries after the first attempt
    delay: float = R.DEFAULT_DELAY
    backoff: float = R.DEFAULT_BACKOFF
    max_delay: float = R.DEFAULT_MAX_DELAY
    jitter: bool = R.DEFAULT_JITTER
    on: list[ErrorKind] = Field(default_factory=lambda: list(RETRIED_KINDS))

    def wait(self, n: int) -> float:
        """Seconds before retry ``n`` (1-based), before jitter."""
        return R.wait(n, self.delay, self.backoff, self.max_delay)


class ErrorHandler(_Model):
    """What happens when a task (or the workflow) fails after its retries.

    ``action`` alone (``fail``, ``skip``, ``continue``) is the short form.  A handler
    (``action == "handle"``) applies when ``when`` (None: every kind) holds the error's kind:
    it retries (``retry``), runs ``fallback`` (a block id), then ``compensate`` (a block id,
    its children run last written first), then ``body`` (a block id), and ends the task as
    ``then`` (None: ``continue`` when a fallback ran and succeeded, else ``fail``).
    """

    action: Literal["fail", "skip", "continue", "handle"] = "fail"
    when: list[ErrorKindName] | None = None
    retry: RetryPolicy | None = None
    fallback: str | None = None
    compensate: str | None = None
    body: str | None = None
    then: Outcome | None = None


class CachePolicy(_Model):
    ttl: float | None = None  # seconds; None: no expiry
    key: Expr | None = None  # None: the rendered input is the key


# -- nodes ------------------------------------------------------------------------------

class _Node(_Model):
    id: str
    parent: str | None = None
    after: list[str] = Field(default_factory=list)
    #: the ids of ``after`` that are there only because of the written order (no data,
    #: ``depends`` or chain edge): what the parallelizing pass may drop (docs/language.md,
    #: Q2).  Executors ignore it: ``after`` alone orders the run.
    order_only: list[str] = Field(default_factory=list)
    src: SourceRef | None = None


class TaskNode(_Node):
    kind: Literal["task"] = "task"
    name: str  # the task's name in the language (``alias.task`` inside a template instance)
    agent: str  # the agent's name: a signature or a configured binding
    input: Expr | None = None  # an object expression; None: {}
    when: Expr | None = None
    timeout: float | None = None  # per attempt, resolved (task, then agent)
    retry: RetryPolicy | None = None  # resolved (task, agent, workflow); None: no retry
    on_error: ErrorHandler = Field(default_factory=ErrorHandler)
    on_success: str | None = None  # a block id
    cache: CachePolicy | None = None
    priority: int = 0
    pure: bool = False  # the agent is declared pure: the optimizer may reorder it
    result_type: TypeRef | None = None  # the agent signature's output, when it has one
    input_type: TypeRef | None = None  # the agent signature's input, when it has one


class ParamCheck(_Model):
    """A template parameter's ``where`` constraints (twdsl.lang.constraints), by key."""

    template: str
    where: dict[str, Any]  # min, max, min_length, max_length, pattern, choices
    src: SourceRef | None = None  # the constraints as written


class BlockNode(_Node):
    kind: Literal["block"] = "block"
    #: why the block exists: ``body`` (workflow, a branch, a loop body, a handler),
    #: ``sequence``, ``parallel`` or ``use`` (a template instance)
    role: Literal["body", "sequence", "parallel", "use", "handler"] = "body"
    children: list[str] = Field(default_factory=list)
    max_concurrency: int | None = None
    fail_fast: bool = True
    timeout: float | None = None
    #: names bound for the block's expressions (a template instance's parameters)
    bindings: dict[str, Expr] = Field(default_factory=dict)
    #: the ``where`` constraints of parameters whose value is computed: checked when the
    #: block starts (literal arguments are checked by ``twdsl check``)
    checks: dict[str, ParamCheck] = Field(default_factory=dict)
    label: str | None = None  # a template instance's alias or template name, for people


class Branch(_Model):
    cond: Expr
    body: str  # a block id


class IfNode(_Node):
    kind: Literal["if"] = "if"
    branches: list[Branch]  # `if` then each `else if`, tried in order
    otherwise: str | None = None  # the `else` block id


class Case(_Model):
    values: list[Expr]
    body: str


class SwitchNode(_Node):
    kind: Literal["switch"] = "switch"
    subject: Expr
    cases: list[Case]
    default: str | None = None


class ForeachNode(_Node):
    kind: Literal["foreach"] = "foreach"
    var: str
    index_var: str | None = None
    items: Expr
    body: str
    parallel: bool = False
    max_concurrency: int | None = None
    fail_fast: bool = True


class WhileNode(_Node):
    kind: Literal["while"] = "while"
    cond: Expr
    body: str
    max_iterations: int = 1000


class BreakNode(_Node):
    kind: Literal["break"] = "break"


class ContinueNode(_Node):
    kind: Literal["continue"] = "continue"


Node = Annotated[
    TaskNode | BlockNode | IfNode | SwitchNode | ForeachNode | WhileNode | BreakNode
    | ContinueNode,
    Field(discriminator="kind"),
]


# -- the program ------------------------------------------------------------------------

class InputDecl(_Model):
    name: str
    type: TypeRef
    default: Expr | None = None
    required: bool = True  # False when there is a default or the type is optional
    src: SourceRef | None = None


class OutputDecl(_Model):
    name: str
    type: TypeRef
    value: Expr | None = None
    src: SourceRef | None = None


class AgentInfo(_Model):
    """An agent the program calls: its signature where it has one."""

    name: str
    declared: bool  # a signature is in scope (else: a configured binding, untyped)
    pure: bool = False
    input: TypeRef | None = None
    output: TypeRef | None = None


class Change(_Model):
    """One thing an optimizer pass changed, for ``twdsl compile --explain``."""

    pass_name: str
    node: str | None
    src: SourceRef | None
    message: str


class Program(_Model):
    ir_version: int = IR_VERSION
    workflow: str
    version: str | None = None
    description: str | None = None
    source: str  # the entry file, as given to the compiler
    source_sha256: str
    inputs: list[InputDecl] = Field(default_factory=list)
    outputs: list[OutputDecl] = Field(default_factory=list)
    agents: dict[str, AgentInfo] = Field(default_factory=dict)
    timeout: float | None = None
    max_concurrency: int | None = None
    on_error: ErrorHandler = Field(default_factory=ErrorHandler)
    on_success: str | None = None  # a block id
    root: str  # the body's block id
    nodes: dict[str, Node] = Field(default_factory=dict)
    optimization: int = 0  # the -O level the passes ran at
    changes: list[Change] = Field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def to_json(self) -> str:
        """Deterministic JSON: the same program gives the same bytes."""
        return self.model_dump_json(indent=2, exclude_defaults=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Program:
        return cls.model_validate_json(text)
