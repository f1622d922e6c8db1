"""Grammar-aware generation of TWDSL programs, for the fuzzer and the property tests.

A program is generated as a list of tokens (grammar/twdsl.lark, with the fields each block
may hold from twdsl/syntax/fields.py), then laid out: tokens joined by random white space,
with comments at random token boundaries.  Programs parse without errors; names often
refer to things that exist (inputs, earlier tasks, declared agents and types) so that the
checker and the compiler get past name resolution, but nothing guarantees that a program
checks.

Every choice goes through a ``Chooser``: ``RandomChooser`` (a seeded ``random.Random``, the
fuzzer) or ``DataChooser`` (hypothesis' ``data.draw``, so that failures shrink to small
programs).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Chooser(Protocol):
    def int(self, lo: int, hi: int) -> int: ...  # lo..hi inclusive

    def pick(self, items: Sequence[T]) -> T: ...

    def chance(self, p: float) -> bool: ...


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


class DataChooser:
    """Choices drawn from hypothesis (``st.data()``): shrinking makes them small and early."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return int(self.data.draw(self.st.integers(lo, hi)))

    def pick(self, items: Sequence[T]) -> T:
        return items[self.int(0, len(items) - 1)]

    def chance(self, p: float) -> bool:
        # shrinks towards "no" (0), so a shrunk program has few optional parts
        return self.int(0, 999) >= 1000 - int(p * 1000)


NAMES = ["a", "b", "x", "items", "n", "url", "result", "build", "deploy", "test", "data",
         "cfg", "k", "v", "total", "name", "region", "q", "lst", "obj"]
STRINGS = ['""', '"hello"', '"a b"', '"tab\\tnew\\nline"', '"quote \\" inside"', "'single'",
           '"${x}"', '"n = ${n + 1} of ${items.length}"', '"uni \\u{1F600}"', '"$notinterp"',
           '"""\nmulti\nline\n"""', '"esc \\\\ \\$ \\{"', '"${a ?? '"'"'d'"'"'}"', '"ünïcødé"']
NUMBERS = ["0", "1", "2", "42", "3.25", "0.5", "1000", "99999999999", "12.0"]
DURATIONS = ["500ms", "30s", "5m", "1h", "1d", "1h30m", "1.5h", "0.5s", "2d3h"]
BINOPS = ["??", "||", "&&", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%"]
TYPES = ["string", "number", "boolean", "any", "object", "duration", "datetime", "url", "file"]
QUOTED_KEYS = ['"content-type"', '"with space"', '"x"', '"1st"']
KEYWORD_KEYS = ["task", "parallel", "sequence", "if", "input", "output", "use", "final"]
COMMENTS_BLOCK = ["/* c */", "/* keep me */", "/**/", "/* multi\n   line */", "/* { [ ( */",
                  "/* // not a line comment */", "/* ünï */"]
COMMENTS_LINE = ["// c", "// keep", "//", "// { unbalanced [", "// /* not block */",
                 "// twdsl-ignore: TW501"]


class Gen:
    """One program: ``tokens()`` gives its tokens (``"\\n"`` where a line break is needed)."""

    def __init__(self, c: Chooser, depth: int = 4, size: int = 8) -> None:
        self.c = c
        self.max_depth = depth
        self.size = size
        self.out: list[str] = []
        self.agents: list[str] = []
        self.types: list[str] = []
        self.templates: list[str] = []
        self.tasks: list[str] = []
        self.scope: list[str] = []
        self.counter = 0
        self.nesting = 0  # handler blocks inside handler blocks

    # -- helpers ---------------------------------------------------------------------
    def emit(self, *toks: str) -> None:
        self.out.extend(toks)

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def sep_list(self, n: int, item: Callable[[], None], sep: str = ",",
                 trailing: bool = False) -> None:
        for i in range(n):
            if i:
                self.emit(sep)
            item()
        if trailing and n and self.c.chance(0.3):
            self.emit(sep)

    # -- module ----------------------------------------------------------------------
    def module(self) -> list[str]:
        if self.c.chance(0.2):
            self.import_decl()
        for _ in range(self.c.int(0, 2)):
            self.agent_decl()
        if self.c.chance(0.4):
            self.type_decl()
        if self.c.chance(0.3):
            self.template_decl()
        for _ in range(self.c.int(1, 2)):
            self.workflow_decl()
        return self.out

    def import_decl(self) -> None:
        path = self.c.pick(['"./lib.twdsl"', '"./other.twdsl"'])
        if self.c.chance(0.5):
            self.emit("import", path)
            if self.c.chance(0.5):
                self.emit("as", self.fresh("ns"))
        else:
            self.emit("import", "{")
            self.sep_list(self.c.int(1, 3), lambda: self.emit(
                *([self.fresh("Imp")] + (["as", self.fresh("Al")] if self.c.chance(0.3)
                                          else []))), trailing=True)
            self.emit("}", "from", path)

    def export(self) -> None:
        if self.c.chance(0.15):
            self.emit("export")

    def agent_decl(self) -> None:
        name = self.fresh("Agent")
        self.agents.append(name)
        self.export()
        self.emit("agent", name, "{")
        if self.c.chance(0.5):
            self.emit("description", ":", self.c.pick(STRINGS[:3]))
        self.emit("input", "{")
        self.sep_list(self.c.int(0, 3), lambda: self.var_decl(False), self.c.pick([",", ""]))
        self.emit("}")
        if self.c.chance(0.7):
            self.emit("output", "{")
            self.sep_list(self.c.int(0, 3), lambda: self.var_decl(False), self.c.pick([",", ""]))
            self.emit("}")
        if self.c.chance(0.2):
            self.emit("pure", ":", self.c.pick(["true", "false"]))
        self.emit("}")

    def type_decl(self) -> None:
        name = self.fresh("T")
        self.export()
        self.emit("type", name, "=")
        self.type_(2)
        self.types.append(name)

    def template_decl(self) -> None:
        name = self.fresh("Tpl")
        self.export()
        for m in ("abstract", "final"):
            if self.c.chance(0.15):
                self.emit(m)
        self.emit("template", name, "(")
        params = [self.fresh("p") for _ in range(self.c.int(0, 3))]

        def param(p: str) -> None:
            self.emit(p, ":")
            self.type_(1)
            if self.c.chance(0.4):
                self.emit("=")
                self.expr(1)
            if self.c.chance(0.3):
                self.emit("where", "{")
                self.sep_list(self.c.int(0, 2), lambda: self.constraint(), self.c.pick([",", ""]))
                self.emit("}")

        for i, p in enumerate(params):
            if i:
                self.emit(",")
            param(p)
        if params and self.c.chance(0.2):
            self.emit(",")
        self.emit(")")
        if self.templates and self.c.chance(0.4):
            self.emit("extends", self.c.pick(self.templates))
        self.templates.append(name)
        saved = self.scope
        self.scope = saved + params
        self.emit("{")
        if self.c.chance(0.5):
            self.emit("description", ":", '"tpl"')
        self.statements(1, self.c.int(0, 3))
        self.emit("}")
        self.scope = saved

    def constraint(self) -> None:
        key = self.c.pick(["min", "max", "min_length", "max_length", "pattern", "choices",
                           "required"])
        self.emit(key, ":")
        if key == "pattern":
            self.emit('"^[a-z]+$"')
        elif key == "choices":
            self.emit("[", '"a"', ",", '"b"', "]")
        elif key == "required":
            self.emit(self.c.pick(["true", "false"]))
        else:
            self.emit(self.c.pick(NUMBERS[:6]))

    def workflow_decl(self) -> None:
        name = self.fresh("W")
        self.tasks = []
        self.export()
        self.emit("workflow", name, "{")
        self.emit("version", ":", self.c.pick(['"1.0.0"', '"0.1.0"', '"2.3.4-rc.1"']))
        inputs = []
        if self.c.chance(0.8):
            self.emit("input", "{")
            for i in range(self.c.int(0, 3)):
                if i:
                    self.emit(self.c.pick([",", ""]))
                inputs.append(self.var_decl(True))
            self.emit("}")
        self.scope = inputs
        for key in ("description", "tags", "timeout", "max_concurrency", "retry", "on_error"):
            if self.c.chance(0.25):
                self.workflow_field(key)
        self.statements(0, self.c.int(1, self.size))
        if self.c.chance(0.6):
            self.emit("output", "{")
            self.sep_list(self.c.int(0, 2), lambda: self.var_decl(True, output=True),
                          self.c.pick([",", ""]))
            self.emit("}")
        if self.c.chance(0.2):
            self.emit("on_success", "{")
            self.statements(1, self.c.int(0, 1))
            self.emit("}")
        self.emit("}")

    def workflow_field(self, key: str) -> None:
        self.emit(key, ":")
        if key == "description":
            self.emit(self.c.pick(STRINGS[:4]))
        elif key == "tags":
            self.emit("[", '"a"', ",", '"b"', "]")
        elif key == "timeout":
            self.emit(self.c.pick(DURATIONS))
        elif key == "max_concurrency":
            self.emit(self.c.pick(["1", "4", "16"]))
        elif key == "retry":
            self.retry()
        else:
            self.emit(self.c.pick(["skip", "continue", "fail"]))

    def var_decl(self, with_default: bool, output: bool = False) -> str:
        name = self.c.pick(QUOTED_KEYS) if self.c.chance(0.05) else self.fresh("v")
        self.emit(name, ":")
        self.type_(2)
        if output or (with_default and self.c.chance(0.3)):
            self.emit("=")
            self.expr(2)
        return name if name[0] != '"' else "x"

    # -- types -----------------------------------------------------------------------
    def type_(self, depth: int) -> None:
        r = self.c.int(0, 9)
        if depth <= 0 or r < 5:
            self.emit(self.c.pick(TYPES + self.types) if self.types or r else "string")
        elif r < 7:
            self.emit(self.c.pick(["array", "map"]), "<")
            self.type_(depth - 1)
            self.emit(">")
        else:
            self.emit("{")
            for i in range(self.c.int(0, 3)):
                if i and self.c.chance(0.7):
                    self.emit(",")
                self.emit(self.fresh("f") if self.c.chance(0.9) else self.c.pick(QUOTED_KEYS), ":")
                self.type_(depth - 1)
            self.emit("}")
        if self.c.chance(0.15):
            self.emit("?")

    # -- statements ------------------------------------------------------------------
    def statements(self, depth: int, n: int) -> None:
        for _ in range(n):
            self.statement(depth)

    def statement(self, depth: int) -> None:
        deep = depth < self.max_depth
        r = self.c.int(0, 19)
        if r < 9 or not deep:
            self.task()
        elif r == 9:
            self.emit("parallel", "{")
            if self.c.chance(0.3):
                self.emit(self.c.pick(["max_concurrency", "fail_fast", "timeout"]), ":",
                          self.c.pick(["2", "true", "false", "10s"]))
            self.statements(depth + 1, self.c.int(1, 3))
            self.emit("}")
        elif r == 10:
            self.emit("sequence", "{")
            self.statements(depth + 1, self.c.int(1, 3))
            self.emit("}")
        elif r == 11:
            self.if_stmt(depth)
        elif r == 12:
            self.emit("switch", "(")
            self.expr(1)
            self.emit(")", "{")
            for _ in range(self.c.int(0, 2)):
                self.emit("case")
                self.sep_list(self.c.int(1, 2), lambda: self.literal())
                self.emit(":")
                self.statements(depth + 1, self.c.int(0, 2))
            if self.c.chance(0.5):
                self.emit("default", ":")
                self.statements(depth + 1, self.c.int(0, 2))
            self.emit("}")
        elif r == 13:
            var = self.fresh("it")
            self.emit("foreach", var)
            if self.c.chance(0.3):
                self.emit(",", self.fresh("i"))
            self.emit("in")
            self.expr(1)
            self.emit("{")
            if self.c.chance(0.3):
                self.emit("parallel", ":", "true")
            saved = self.scope
            self.scope = saved + [var]
            self.statements(depth + 1, self.c.int(1, 2))
            if self.c.chance(0.2):
                self.emit(self.c.pick(["break", "continue"]))
            self.scope = saved
            self.emit("}")
        elif r == 14:
            self.emit("while", "(")
            self.expr(1)
            self.emit(")", "{")
            if self.c.chance(0.5):
                self.emit("max_iterations", ":", "3")
            self.statements(depth + 1, self.c.int(1, 2))
            self.emit("}")
        elif r == 15 and self.templates:
            self.emit("use", self.c.pick(self.templates), "(")
            self.sep_list(self.c.int(0, 2), lambda: (self.emit(self.fresh("p"), ":"),
                                                     self.expr(1)), trailing=True)
            self.emit(")")
            if self.c.chance(0.4):
                self.emit("as", self.fresh("u"))
        elif r == 16 and len(self.tasks) >= 2:
            self.emit(self.c.pick(self.tasks), "->")
            if self.c.chance(0.3):
                self.emit("[", self.c.pick(self.tasks), ",", self.c.pick(self.tasks), "]")
            else:
                self.emit(self.c.pick(self.tasks))
        else:
            self.task()

    def if_stmt(self, depth: int) -> None:
        self.emit("if", "(")
        self.expr(2)
        self.emit(")", "{")
        self.statements(depth + 1, self.c.int(0, 2))
        self.emit("}")
        if self.c.chance(0.5):
            self.emit("else")
            if self.c.chance(0.3) and depth + 1 < self.max_depth:
                self.if_stmt(depth + 1)
            else:
                self.emit("{")
                self.statements(depth + 1, self.c.int(0, 2))
                self.emit("}")

    def task(self) -> None:
        name = self.fresh("t")
        for m in ("abstract", "final", "override"):
            if self.templates and self.c.chance(0.05):
                self.emit(m)
        self.emit("task", name, "{")
        agent = self.c.pick(self.agents + ["echo", "sleep", "log", "Echo"]) \
            if self.agents or self.c.chance(0.5) else "echo"
        self.emit("agent", ":", f'"{agent}"' if self.c.chance(0.7) else agent)
        comma = self.c.pick(["", ","])
        if self.c.chance(0.8):
            self.emit(comma, "input", ":") if comma else self.emit("input", ":")
            self.object_lit(2)
        for key in ("description", "depends", "timeout", "retry", "cache", "priority", "when",
                    "on_error", "on_success"):
            if self.c.chance(0.25 if key == "on_error" else 0.12):
                self.task_field(key)
        self.emit("}")
        self.tasks.append(name)

    def task_field(self, key: str) -> None:
        if key == "on_success":
            self.emit("on_success", "{")
            self.task()
            self.emit("}")
            return
        self.emit(key, ":")
        if key == "description":
            self.emit(self.c.pick(STRINGS[:6]))
        elif key == "depends":
            self.emit("[")
            self.sep_list(self.c.int(0, 2), lambda: self.emit(
                self.c.pick(self.tasks) if self.tasks else "nothing"))
            self.emit("]")
        elif key == "timeout":
            self.emit(self.c.pick(DURATIONS))
        elif key == "retry":
            self.retry()
        elif key == "cache":
            self.emit(self.c.pick(["true", "1h", "false"]))
        elif key == "priority":
            self.emit(self.c.pick(NUMBERS[:4]))
        elif key == "when":
            self.expr(2)
        else:
            r = self.c.int(0, 2)
            if r == 0:
                self.emit(self.c.pick(["skip", "continue", "fail"]))
            else:
                self.emit("{")
                if self.c.chance(0.5):
                    self.emit("when", ":", "[", "timeout", ",", "transient", "]")
                if self.c.chance(0.5):
                    self.emit("retry", ":", "2")
                if self.tasks and self.c.chance(0.3):
                    self.emit("fallback", ":", self.c.pick(self.tasks))
                elif self.c.chance(0.3) and self.nesting < 3:
                    self.emit("fallback", self.c.pick([":", ""]), "{")  # a block of statements
                    self.nesting += 1
                    self.statement(self.max_depth - 1)
                    self.nesting -= 1
                    self.emit("}")
                if self.c.chance(0.2) and self.nesting < 3:
                    self.emit("compensate", "{")
                    self.nesting += 1
                    self.task()
                    self.nesting -= 1
                    self.emit("}")
                if self.c.chance(0.4):
                    self.emit("then", ":", self.c.pick(["fail", "skip", "continue"]))
                self.emit("}")

    def retry(self) -> None:
        if self.c.chance(0.5):
            self.emit(self.c.pick(["0", "1", "3"]))
            return
        self.emit("{")
        self.emit("attempts", ":", self.c.pick(["1", "3"]))
        if self.c.chance(0.5):
            self.emit(self.c.pick([",", ""]), "delay", ":", self.c.pick(DURATIONS[:3]))
        if self.c.chance(0.3):
            self.emit("backoff", ":", self.c.pick(['"exponential"', '"linear"', '"fixed"']))
        if self.c.chance(0.3):
            self.emit("on", ":", "[", "transient", "]")
        self.emit("}")

    # -- expressions -----------------------------------------------------------------
    def literal(self) -> None:
        r = self.c.int(0, 5)
        if r == 0:
            self.emit(self.c.pick(STRINGS))
        elif r == 1:
            self.emit(self.c.pick(NUMBERS))
        elif r == 2:
            self.emit(self.c.pick(DURATIONS))
        elif r == 3:
            self.emit(self.c.pick(["true", "false"]))
        elif r == 4:
            self.emit("null")
        else:
            self.emit(self.c.pick(STRINGS[:3]))

    def name(self) -> None:
        r = self.c.int(0, 9)
        if self.tasks and r < 3:
            self.emit(self.c.pick(self.tasks[-4:]), ".", "result")
            if self.c.chance(0.3):
                self.emit(".", self.c.pick(["build_path", "url", "passed"]))
        elif self.scope and r < 7:
            self.emit(self.c.pick(self.scope))
        else:
            self.emit(self.c.pick([*NAMES, "context"]))

    def object_lit(self, depth: int) -> None:
        self.emit("{")
        n = self.c.int(0, 3)
        for i in range(n):
            if i and self.c.chance(0.6):
                self.emit(",")
            r = self.c.int(0, 19)
            key = (self.c.pick(QUOTED_KEYS) if r == 0 else self.c.pick(KEYWORD_KEYS) if r == 1
                   else self.fresh("k"))
            self.emit(key, ":")
            self.expr(depth - 1)
        if n and self.c.chance(0.2):
            self.emit(",")
        self.emit("}")

    def expr(self, depth: int, operand: bool = False) -> None:
        """An expression; an ``operand`` of an operator cannot be a lambda unparenthesized."""
        r = self.c.int(0, 15)
        if depth <= 0 or r < 4 or (operand and r == 14):
            if self.c.chance(0.5):
                self.literal()
            else:
                self.name()
            return
        if r < 7:
            self.expr(depth - 1, operand=True)
            self.emit(self.c.pick(BINOPS))
            self.expr(depth - 1, operand=True)
        elif r == 7:
            self.emit(self.c.pick(["!", "-"]))
            self.expr(depth - 1, operand=True)
        elif r == 8:
            self.emit("(")
            self.expr(depth - 1)
            self.emit(")")
        elif r == 9:
            self.emit("[")
            self.sep_list(self.c.int(0, 4), lambda: self.expr(depth - 1), trailing=True)
            self.emit("]")
        elif r == 10:
            self.object_lit(depth)
        elif r == 11:
            self.name()
            self.emit(".", self.c.pick(["map", "filter", "reduce", "length", "keys", "join"]))
            if self.c.chance(0.7):
                self.emit("(")
                self.lambda_(depth - 1)
                self.emit(")")
        elif r == 12:
            self.emit(self.c.pick(["len", "range", "upper", "concat", "min", "max", "keys"]),
                      "(")
            self.sep_list(self.c.int(0, 3), lambda: self.expr(depth - 1), trailing=True)
            self.emit(")")
        elif r == 13:
            self.name()
            self.emit("[")
            self.expr(depth - 1)
            self.emit("]")
        elif r == 14:
            self.lambda_(depth - 1)
        else:
            self.emit(self.c.pick(STRINGS))

    def lambda_(self, depth: int) -> None:
        n = self.c.int(1, 3)
        params = [self.fresh("x") for _ in range(n)]
        if n == 1 and self.c.chance(0.7):
            self.emit(params[0])
        else:
            self.emit("(")
            self.sep_list(n, lambda: self.emit(params.pop(0)))
            self.emit(")")
        self.emit("=>")
        self.expr(depth)


def program_tokens(c: Chooser, depth: int = 4, size: int = 8) -> list[str]:
    return [t for t in Gen(c, depth, size).module() if t]


def _word(ch: str) -> bool:
    return ch.isalnum() or ch in "_\"'"


def needs_space(a: str, b: str) -> bool:
    """Whether tokens ``a`` and ``b`` would run together (or change) without white space."""
    if _word(a[-1:]) and _word(b[:1]):
        return True
    if (a[-1:].isdigit() or a[-1:] == ".") and (b[:1].isalnum() or b[:1] == "."):
        return True
    # operators that would merge: = =, < =, - >, / /, / *, ? ?, & &, | |, = >, ! =
    return a[-1:] + b[:1] in {"==", "<=", ">=", "->", "//", "/*", "??", "&&", "||", "=>",
                              "!=", "*/", "--", "+="}


def layout(tokens: list[str], c: Chooser, comment_rate: float = 0.0,
           spaces: Sequence[str] = (" ", " ", " ", "\n", "  ", "\n\n", "\t", "\n  ", "")
           ) -> str:
    """``tokens`` as text: random white space between them (none where tokens allow it),
    and with ``comment_rate`` a comment at a token boundary."""
    out: list[str] = []
    prev = ""
    for tok in tokens:
        if out:
            sep = c.pick(spaces)
            if sep == "" and needs_space(prev, tok):
                sep = " "
            out.append(sep)
        if comment_rate and c.chance(comment_rate):
            if out and out[-1] == "":
                out[-1] = " "  # `/` then `/* c */` must not become `//* c */`
            if c.chance(0.5):
                out.append(c.pick(COMMENTS_BLOCK) + " ")
            else:
                out.append(c.pick(COMMENTS_LINE) + "\n")
        out.append(tok)
        prev = tok
    if comment_rate and c.chance(comment_rate):
        out.append(" " + c.pick(COMMENTS_LINE))
    return "".join(out) + "\n"


def program(c: Chooser, comment_rate: float = 0.05, depth: int = 4, size: int = 8) -> str:
    """A generated program's text (see the module docstring)."""
    return layout(program_tokens(c, depth, size), c, comment_rate)


# -- deep nesting shapes -------------------------------------------------------------------
def _wrap(body: str) -> str:
    return ('workflow W {\n  version: "1.0.0"\n  task t {\n    agent: "echo"\n'
            f"    input: {{ x: {body} }}\n  }}\n}}\n")


SHAPES: dict[str, Callable[[int], str]] = {
    "array": lambda n: _wrap("[" * n + "1" + "]" * n),
    "object": lambda n: _wrap("{ a: " * n + "1" + " }" * n),
    "paren": lambda n: _wrap("(" * n + "1" + ")" * n),
    "unary": lambda n: _wrap("-" * n + "1"),
    "not": lambda n: _wrap("!" * n + "true"),
    "add": lambda n: _wrap(" + ".join(["1"] * n)),
    "coalesce": lambda n: _wrap(" ?? ".join(["null"] * n + ["1"])),
    "member": lambda n: _wrap("a" + ".b" * n),
    "index": lambda n: _wrap("a" + "[0]" * n),
    "call": lambda n: _wrap("f" + "()" * n),
    "lambda": lambda n: _wrap("x => " * n + "1"),
    "string": lambda n: _wrap('"' + "${" * n + "1" + "}" * n + '"'),
    "array_in_object": lambda n: _wrap("{ a: [" * n + "1" + "] }" * n),
    "parallel": lambda n: "workflow W {\n  version: \"1.0.0\"\n" + "parallel { " * n
    + 'task t { agent: "echo" }' + " }" * n + "\n}\n",
    "sequence": lambda n: "workflow W {\n  version: \"1.0.0\"\n" + "sequence { " * n
    + 'task t { agent: "echo" }' + " }" * n + "\n}\n",
    "if": lambda n: "workflow W {\n  version: \"1.0.0\"\n" + "if (true) { " * n
    + 'task t { agent: "echo" }' + " }" * n + "\n}\n",
    "else_if": lambda n: "workflow W {\n  version: \"1.0.0\"\n" + "if (false) { } else " * n
    + '{ task t { agent: "echo" } }' + "\n}\n",
    "foreach": lambda n: "workflow W {\n  version: \"1.0.0\"\n"
    + "".join(f"foreach i{k} in [1] {{ " for k in range(n)) + 'task t { agent: "echo" }'
    + " }" * n + "\n}\n",
    "record_type": lambda n: "type T = " + "{ a: " * n + "string" + " }" * n + "\n",
    "generic_type": lambda n: "type T = " + "array<" * n + "string" + ">" * n + "\n",
    "unclosed": lambda n: _wrap("[" * n),
    "unopened": lambda n: _wrap("1" + "]" * n),
    "braces": lambda n: "{" * n + "}" * n,
}


def shape(name: str, depth: int) -> str:
    return SHAPES[name](depth)
