"""Versions of a workflow: what changed between two of them, for its callers and its runs in
flight, and whether the version grew enough (docs/versions.md).

* :mod:`twdsl.versions.diff` - the comparison of two compiled programs, pure (the IR in,
  classified changes out): what ``twdsl diff``, ``twdsl check --against`` and resuming a run
  with a changed workflow call;
* :mod:`twdsl.versions.sources` - the versions compared: files, compiled programs, files at a
  git revision, compiled with the places the IR does not keep;
* :mod:`twdsl.versions.against` - ``check --against``: a version bump too small (TW512);
* :mod:`twdsl.versions.render` - text, JSON and Markdown.

The semantic-version rule itself (parsing, precedence, the bump a change needs) is
:mod:`twdsl.lang.semver`.  Nothing is imported here, so that the pure comparison can be
imported without the compiler.
"""
