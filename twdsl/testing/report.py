"""Reports of a test session: readable text, and JUnit XML for CI.

The text report lists each test file and, under it, each test as ``PASS``, ``FAIL`` or
``SKIP`` with the virtual time its run took; under a failed test, one line per expectation
that did not hold, naming the test file's line.  The last line counts them:
``3 passed, 1 failed, 1 skipped in 0.04s``.

The JUnit XML follows the schema most CI servers read (Jenkins' junit-10.xsd, which
``pytest --junit-xml`` follows too): one ``testsuite`` per test file, one ``testcase`` per
test, a ``failure`` holding the failed expectations, ``skipped`` with the reason.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from twdsl.lang.values import format_duration
from twdsl.testing.runner import Outcome

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0
_MARK = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "skipped")}


def summary(outcomes: list[Outcome], wall: float) -> str:
    c = counts(outcomes)
    text = f"{c['passed']} passed, {c['failed']} failed"
    if c["skipped"]:
        text += f", {c['skipped']} skipped"
    return f"{text} in {wall:.2f}s"


def _by_file(outcomes: list[Outcome]) -> Iterable[tuple[str, list[Outcome]]]:
    files: dict[str, list[Outcome]] = {}
    for o in outcomes:
        files.setdefault(o.test.file.path, []).append(o)
    return files.items()


def text(outcomes: list[Outcome], wall: float) -> str:
    lines: list[str] = []
    for path, group in _by_file(outcomes):
        workflow = group[0].workflow
        lines.append(f"{path} ({workflow})" if workflow else path)
        for o in group:
            if o.status == "skipped":
                lines.append(f"  SKIP  {o.test.name}: {o.test.skip}")
                continue
            lines.append(f"  {_MARK[o.status]}  {o.test.name}  "
                         f"[{format_duration(round(o.virtual_time, 6))} virtual]")
            lines += [f"        {path}:{f.line}: {f.message}" for f in o.failures]
    lines.append(summary(outcomes, wall))
    return "\n".join(lines) + "\n"


def _clean(s: str) -> str:
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", s)


def _seconds(s: float) -> str:
    return f"{s:.3f}"


def junit(outcomes: list[Outcome], wall: float) -> bytes:
    c = counts(outcomes)
    root = ET.Element("testsuites", {
        "name": "twdsl test", "tests": str(len(outcomes)), "failures": str(c["failed"]),
        "errors": "0", "time": _seconds(wall)})
    for path, group in _by_file(outcomes):
        g = counts(group)
        suite = ET.SubElement(root, "testsuite", {
            "name": _clean(path), "tests": str(len(group)), "failures": str(g["failed"]),
            "errors": "0", "skipped": str(g["skipped"]),
            "time": _seconds(sum(o.wall_time for o in group)), "file": _clean(path)})
        if group[0].workflow:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", {"name": "workflow",
                                              "value": _clean(group[0].workflow)})
        classname = re.sub(r"\.test\.toml$|\.toml$", "", path).replace("/", ".")
        for o in group:
            case = ET.SubElement(suite, "testcase", {
                "name": _clean(o.test.name), "classname": _clean(classname),
                "time": _seconds(o.wall_time)})
            if o.status == "skipped":
                ET.SubElement(case, "skipped", {"message": _clean(o.test.skip or "")})
                continue
            if o.status == "failed":
                n = len(o.failures)
                failure = ET.SubElement(case, "failure", {
                    "type": "AssertionError",
                    "message": _clean(f"{n} expectation{'s' if n != 1 else ''} failed: "
                                      f"{o.failures[0].message}")})
                failure.text = _clean("\n".join(f"{path}:{f.line}: {f.message}"
                                                for f in o.failures))
            out = ET.SubElement(case, "system-out")
            out.text = (f"virtual time: {format_duration(round(o.virtual_time, 6))}\n"
                        f"run status: {o.run_status}\n")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
