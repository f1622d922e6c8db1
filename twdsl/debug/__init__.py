"""The TWDSL debugger: ``twdsl debug`` speaks the Debug Adapter Protocol on stdio and runs one
workflow in this process on the runtime's engine, stopping it at task boundaries
(docs/debugging.md).

* :mod:`twdsl.debug.protocol` - the protocol's framing;
* :mod:`twdsl.debug.session` - the session: requests, breakpoints, stops, stack, variables;
* :mod:`twdsl.debug.expressions` - conditions and console expressions, compiled by the
  compiler in the scope of a task;
* :mod:`twdsl.debug.variables` - how values are shown;
* :mod:`twdsl.debug.stdio` - the session on the process's standard streams.

The CLI (twdsl/cli/debug.py) prepares a launch the way ``twdsl run`` does (program, inputs,
agents) and hands it to :func:`serve_stdio`.
"""

from __future__ import annotations

from twdsl.debug.expressions import ExpressionCompiler, ExpressionError
from twdsl.debug.session import DebugSession, Launch, LaunchError
from twdsl.debug.stdio import serve_stdio

__all__ = ["DebugSession", "ExpressionCompiler", "ExpressionError", "Launch", "LaunchError",
           "serve_stdio"]
