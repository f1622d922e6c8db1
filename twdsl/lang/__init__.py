"""The language's own rules, written once: what every stage that needs them imports.

* :mod:`twdsl.lang.types` - the types and assignability;
* :mod:`twdsl.lang.values` - run-time values, the language's equality, rendering, JSON;
* :mod:`twdsl.lang.kinds` - the error kinds and the words of ``on_error``;
* :mod:`twdsl.lang.retry` - retry defaults and the wait before each retry;
* :mod:`twdsl.lang.builtins` - builtin functions, methods and values: signature,
  implementation and documentation together;
* :mod:`twdsl.lang.conform` - whether a value fits a declared type (agent results, workflow
  outputs, inputs at run time).

This package imports nothing else of twdsl: the checker, the evaluator and the runtime all stand
on it, so a rule cannot drift between ``twdsl check`` and ``twdsl run``.
"""
