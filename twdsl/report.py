"""Reports: diagnostics rendered for CI (SARIF 2.1.0, GitHub workflow commands) and code docs.

The text and JSON shapes live beside the type in :mod:`twdsl.diagnostics`; this module adds
the CI formats of ``twdsl check --format sarif|github`` and the terminal text of
``twdsl check --explain CODE``.  Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from urllib.parse import quote

from twdsl import __version__
from twdsl.codes import CODES, Code, code_markdown
from twdsl.diagnostics import Diagnostic, Severity
from twdsl.source import SourceFile, Span
from twdsl.suggest import closest_all

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "twdslLineHash/v1"

_SARIF_LEVEL = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
    Severity.HINT: "note",
}
_GITHUB_COMMAND = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "notice",
    Severity.HINT: "notice",
}


# ------------------------------------------------------------------------ SARIF
def to_sarif(
    diagnostics: Iterable[Diagnostic],
    root: str | PurePath,
    sources: Mapping[str, SourceFile] | None = None,
    *,
    information_uri: str | None = None,
) -> dict[str, object]:
    """A SARIF 2.1.0 log of one run, as GitHub code scanning takes it.

    ``root`` is the folder that relative diagnostic paths are relative to (the current
    folder of ``twdsl check``); result URIs are relative to it under ``%SRCROOT%``, and a
    file outside it gets an absolute ``file:`` URI.  ``sources`` (path -> SourceFile) gives
    the line text for ``partialFingerprints``; a result whose file is not in it has none
    (code scanning then computes its own).  ``tool.driver.rules`` holds every registered
    code, in registry order, so a rule's index is the same in every log of a version.

    >>> from twdsl.source import Span
    >>> span = Span("w.twdsl", 9, 10, 1, 10, 1, 11)
    >>> d = Diagnostic('TW112', Severity.ERROR, "unmatched '}'", span)
    >>> log = to_sarif([d], "/repo")
    >>> result = log["runs"][0]["results"][0]
    >>> result["ruleId"], result["level"], result["locations"][0]["physicalLocation"]["region"]
    ('TW112', 'error', {'startLine': 1, 'startColumn': 10, 'endLine': 1, 'endColumn': 11})
    """
    root_path = _posix(root)
    rule_index = {c: i for i, c in enumerate(CODES)}
    rules = [sarif_rule(c) for c in CODES.values()]
    results: list[dict[str, object]] = []
    occurrences: dict[tuple[str, str, str], int] = {}
    for d in diagnostics:
        if d.code not in rule_index:  # an unregistered code (a bug): keep ruleIndex valid
            rule_index[d.code] = len(rules)
            rules.append({"id": d.code, "shortDescription": {"text": d.code}})
        artifact = _artifact(d.span.file, root_path)
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {"artifactLocation": artifact,
                                                "region": _region(d.span)}}],
        }
        if d.related:
            result["relatedLocations"] = [
                {"id": i, "physicalLocation": _physical(r.span, root_path),
                 "message": {"text": r.message}}
                for i, r in enumerate(d.related, 1)
            ]
        source = sources.get(d.span.file) if sources is not None else None
        if source is not None:
            uri = artifact["uri"]
            line = source.line_text(d.span.line).strip()
            key = (d.code, uri, line)
            occurrences[key] = occurrences.get(key, 0) + 1
            result["partialFingerprints"] = {
                FINGERPRINT_KEY: f"{line_hash(d.code, uri, line)}:{occurrences[key]}"}
        if d.fix is not None:
            changes: dict[str, list[dict[str, object]]] = {}
            for edit in d.fix.edits:
                changes.setdefault(edit.span.file, []).append({
                    "deletedRegion": _region(edit.span),
                    "insertedContent": {"text": edit.new_text},
                })
            result["fixes"] = [{
                "description": {"text": d.fix.title},
                "artifactChanges": [
                    {"artifactLocation": _artifact(path, root_path), "replacements": reps}
                    for path, reps in changes.items()
                ],
            }]
        results.append(result)
    driver: dict[str, object] = {"name": "twdsl", "version": __version__}
    if information_uri:
        driver["informationUri"] = information_uri
    driver["rules"] = rules
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": driver},
            **({"originalUriBaseIds": {SRCROOT: {"uri": _dir_uri(root_path)}}}
               if _is_absolute(root_path) else {}),
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def sarif_rule(code: Code) -> dict[str, object]:
    """The ``reportingDescriptor`` of one registered code.

    >>> rule = sarif_rule(CODES['TW112'])
    >>> rule["id"], rule["name"], rule["shortDescription"], rule["defaultConfiguration"]
    ('TW112', 'unmatched-closer', {'text': 'Unmatched closer'}, {'level': 'error'})
    """
    return {
        "id": code.code,
        "name": code.name,
        "shortDescription": {"text": code.name.replace("-", " ").capitalize()},
        "fullDescription": {"text": code.summary},
        "help": {"text": render_explain(code), "markdown": code_markdown(code)},
        "defaultConfiguration": {"level": _SARIF_LEVEL[code.severity]},
        "properties": {"tags": [code.stage]},
    }


def line_hash(code: str, uri: str, line_text: str) -> str:
    """A stable hash of a result: its code, its file's URI and the text of its (stripped) line.

    It does not depend on the line number, so a result keeps its identity when lines are
    added above it; a repeated hash in one file gets ``:2``, ``:3``... in the log.

    >>> line_hash('TW112', "w.twdsl", "}}")
    'b5c3e2dbc66d0cbf'
    """
    data = "\0".join((code, uri, line_text)).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def _posix(path: str | PurePath) -> str:
    """``path`` with forward slashes and ``.``/``..`` resolved (without the file system)."""
    return posixpath.normpath(str(path).replace("\\", "/"))


def _is_absolute(posix: str) -> bool:
    return posix.startswith("/") or re.match(r"[A-Za-z]:/", posix) is not None


def _region(span: Span) -> dict[str, int]:
    return {"startLine": span.line, "startColumn": span.column,
            "endLine": span.end_line, "endColumn": span.end_column}


def _physical(span: Span, root: str) -> dict[str, object]:
    return {"artifactLocation": _artifact(span.file, root), "region": _region(span)}


def _artifact(path: str, root: str) -> dict[str, str]:
    """A relative URI under %SRCROOT% for a file inside ``root``, else an absolute one."""
    p = _posix(path)
    full = p if _is_absolute(p) else posixpath.normpath(posixpath.join(root, p))
    rel = posixpath.relpath(full, root) if _is_absolute(full) == _is_absolute(root) else ".."
    if rel != "." and rel != ".." and not rel.startswith("../"):
        return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}
    return {"uri": _file_uri(full)}


def _file_uri(posix: str) -> str:
    if not posix.startswith("/"):  # C:/x -> file:///C:/x
        posix = "/" + posix
    return "file://" + quote(posix, safe="/:")


def _dir_uri(root: str) -> str:
    uri = _file_uri(root)
    return uri if uri.endswith("/") else uri + "/"


# ------------------------------------------------------------------------ GitHub
def to_github(diagnostics: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, one line per diagnostic (annotations on a PR).

    Errors become ``::error``, warnings ``::warning``, info and hints ``::notice``.

    >>> from twdsl.source import Span
    >>> span = Span("w.twdsl", 9, 10, 1, 10, 1, 11)
    >>> d = Diagnostic('TW112', Severity.ERROR, "unmatched '}'", span)
    >>> print(to_github([d]))
    ::error file=w.twdsl,line=1,col=10,endLine=1,endColumn=11,title=twdsl TW112::unmatched '}'
    """
    lines = []
    for d in diagnostics:
        s = d.span
        props = ",".join(f"{k}={_escape_property(str(v))}" for k, v in (
            ("file", s.file.replace("\\", "/")), ("line", s.line), ("col", s.column),
            ("endLine", s.end_line), ("endColumn", s.end_column), ("title", f"twdsl {d.code}"),
        ))
        text = [d.message]  # the notes and the fix too: an annotation is all a reviewer sees
        text += [f"note: {r.message} at line {r.span.line}" for r in d.related]
        if d.fix is not None:
            text.append(f"help: {d.fix.title}")
        lines.append(f"::{_GITHUB_COMMAND[d.severity]} {props}::"
                     f"{_escape_data(chr(10).join(text))}")
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


# ------------------------------------------------------------------------ --explain
def render_explain(code: Code) -> str:
    """The terminal documentation of a code, as ``twdsl check --explain CODE`` prints it.

    >>> print(render_explain(CODES['TW112']))
    TW112 unmatched-closer
      stage: syntax
      default severity: error
    <BLANKLINE>
    A '}', ')' or ']' with nothing open to close.
    <BLANKLINE>
    Bad (reports TW112):
    <BLANKLINE>
        workflow W { version: "1.0.0" }}
    <BLANKLINE>
    Good:
    <BLANKLINE>
        workflow W { version: "1.0.0" }
    """
    out = [
        f"{code.code} {code.name}",
        f"  stage: {code.stage}",
        f"  default severity: {code.severity.value}",
        "",
        code.summary,
    ]
    for title, example in ((f"Bad (reports {code.code}):", code.bad), ("Good:", code.good)):
        if example:
            out += ["", title, "", *(f"    {line}".rstrip() for line in example.split("\n"))]
    return "\n".join(out)


def find_code(query: str) -> Code | None:
    """The registered code named by ``query``: a code (any case) or a rule name.

    >>> find_code("tw111").name, find_code("unclosed-bracket").code
    ('unclosed-bracket', 'TW111')
    >>> find_code('TW999') is None
    True
    """
    q = query.strip()
    found = CODES.get(q.upper())
    if found is not None:
        return found
    return next((c for c in CODES.values() if c.name == q.lower()), None)


def suggest_codes(query: str, limit: int = 3) -> list[Code]:
    """Registered codes whose code or name is close to ``query``, best first.

    Codes and names that start with the query come first (``TW11`` suggests TW110,
    TW111, ...), then the closest spellings.

    >>> [c.code for c in suggest_codes("unclosed-braket")]
    ['TW111']
    >>> [c.code for c in suggest_codes("tw11")]
    ['TW110', 'TW111', 'TW112']
    """
    q = query.strip()
    keys = {c.code.lower(): c for c in CODES.values()}
    keys.update({c.name: c for c in CODES.values()})
    ranked = [k for k in keys if q and k.startswith(q.lower())]
    close = closest_all(q.lower(), keys, limit)
    if close:  # only spellings nearly as close as the best one
        best = difflib.SequenceMatcher(None, q.lower(), close[0]).ratio()
        ranked += [k for k in close
                   if difflib.SequenceMatcher(None, q.lower(), k).ratio() >= best - 0.1]
    out: list[Code] = []
    for k in ranked:
        if keys[k] not in out:
            out.append(keys[k])
    return out[:limit]
