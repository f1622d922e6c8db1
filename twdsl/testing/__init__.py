"""Tests for workflows (``twdsl test``, docs/testing.md).

A test file (``*.test.toml``, :mod:`twdsl.testing.spec`) names a workflow and holds tests:
inputs, mock agents (:mod:`twdsl.testing.mocks`), injected faults and expectations.  Each test
runs the compiled workflow on the real engine, with its mocks as the agent registry, no state
store, and a virtual clock (:mod:`twdsl.testing.clock`): retry backoff and timeouts take no
wall time.  :mod:`twdsl.testing.runner` runs and checks; :mod:`twdsl.testing.report` writes
the text and JUnit XML reports.
"""
