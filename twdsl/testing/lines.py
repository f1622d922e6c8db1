"""Where each key of a TOML file is written, for messages that name the line.

:mod:`tomllib` gives values without positions, so this scans the text once for table headers
(``[a.b]``, ``[[a]]``) and ``key = value`` lines and records the line of each key path, with
arrays of tables numbered as tomllib numbers them: ``("test", 1, "expect", "status")`` is
``status`` in the ``[test.expect]`` table of the second ``[[test]]``.  A path that was not
written on a line of its own (inside an inline table or an array) gets the line of its
nearest written parent.  Values always come from tomllib; this only points at lines.

>>> m = LineMap('[[test]]\\nname = "a"\\n[[test]]\\nname = "b"\\n[test.expect]\\n'
...             'tasks = { x = { attempts = 2 } }\\n')
>>> m.line(("test", 1, "name")), m.line(("test", 1, "expect", "tasks", "x", "attempts"))
(4, 6)
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LITERAL = re.compile(r"'([^']*)'")


def _key(text: str, pos: int) -> tuple[list[str], int] | None:
    """A dotted key at ``pos`` (spaces allowed around dots): its parts and the position after
    it, or None."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        for pattern in (_BARE, _BASIC, _LITERAL):
            m = pattern.match(text, pos)
            if m:
                part = m.group(1) if m.lastindex else m.group(0)
                if pattern is _BASIC:
                    part = part.encode().decode("unicode_escape") if "\\" in part else part
                parts.append(part)
                pos = m.end()
                break
        else:
            return None
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class LineMap:
    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        self.arrays: dict[Path, int] = {}  # array of tables -> how many elements so far
        table: Path = ()
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), 1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            stripped = line.lstrip()
            if stripped.startswith("[["):
                found = _key(stripped, 2)
                if found and stripped[found[1]:].lstrip().startswith("]]"):
                    table = self._resolve(found[0], new_element=True)
                    self.lines.setdefault(table, number)
                continue
            if stripped.startswith("["):
                found = _key(stripped, 1)
                if found and stripped[found[1]:].lstrip().startswith("]"):
                    table = self._resolve(found[0], new_element=False)
                    self.lines.setdefault(table, number)
                continue
            found = _key(stripped, 0)
            if found and stripped[found[1]:].startswith("="):
                self.lines.setdefault(table + tuple(found[0]), number)
                rest = stripped[found[1] + 1:]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote

    def _resolve(self, parts: list[str], new_element: bool) -> Path:
        path: Path = ()
        for i, part in enumerate(parts):
            path = (*path, part)
            last = i == len(parts) - 1
            if last and new_element:
                n = self.arrays.get(path, 0)
                self.arrays[path] = n + 1
                path = (*path, n)
            elif path in self.arrays:
                path = (*path, self.arrays[path] - 1)
        return path

    def line(self, path: Path) -> int:
        """The line of ``path``, else of its nearest written parent (1 at worst)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1
