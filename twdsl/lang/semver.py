"""Semantic versions (semver 2.0.0, https://semver.org): what a workflow's ``version`` is.

One module for the rule, read by the check of the ``version`` field (TW511), by ``twdsl
diff`` and by ``twdsl check --against`` (TW512): parsing, precedence, the fix for a version
written almost right, and which version a change needs (docs/versions.md).

>>> Version.parse("1.4.0-rc.1+build.7") < Version.parse("1.4.0")
True
>>> str(next_version(Version.parse("1.4.2"), Bump.MAJOR))
'2.0.0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

# the grammar of semver.org, item 2, 9 and 10 (ASCII digits only: no other script's digits)
_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*"
_SEMVER = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>(?:{_PRE_ID})(?:\.(?:{_PRE_ID}))*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?")
# a version written almost right: a leading v, one or two numbers, numbers with leading zeros
_ALMOST = re.compile(r"[vV]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?([-+].*)?")


class Bump(IntEnum):
    """How much a version must grow: ordered, so that the larger of two needs is ``max``."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True, eq=False)
class Version:
    """A parsed semantic version.  Ordered by semver precedence (build metadata ignored);
    equal when they have the same precedence."""

    major: int
    minor: int
    patch: int
    pre: tuple[int | str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """``text`` as a version; ValueError (with :func:`problem`'s reason) otherwise."""
        m = _SEMVER.fullmatch(text)
        if m is None:
            raise ValueError(problem(text) or f"'{text}' is not a semantic version")
        pre = tuple(int(p) if p.isdigit() else p for p in (m["pre"] or "").split(".") if p)
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), pre, m["build"] or "")

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def _key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int | str], ...]]:
        # semver item 11: a pre-release sorts before its release; numeric identifiers sort
        # before alphanumeric ones, numbers by value, text in ASCII order
        ids = tuple((0, p) if isinstance(p, int) else (1, p) for p in self.pre)
        return (self.core, 0 if self.pre else 1, ids)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += "-" + ".".join(str(p) for p in self.pre)
        return out + (f"+{self.build}" if self.build else "")


def parse(text: str) -> Version | None:
    """``text`` as a version, or None when it is not one.

    >>> parse("1.0"), str(parse("0.1.0"))
    (None, '0.1.0')
    """
    try:
        return Version.parse(text)
    except ValueError:
        return None


def problem(text: str) -> str | None:
    """Why ``text`` is not a semantic version, in a few words (None: it is one).

    >>> problem("1.0")
    'it has 2 numbers, and a version has 3: MAJOR.MINOR.PATCH'
    >>> problem("v1.2.3")
    "a version starts with its major number, without 'v'"
    >>> problem("1.02.0")
    'a number has a leading zero'
    """
    if _SEMVER.fullmatch(text):
        return None
    if text.strip() != text:
        return "it has spaces around it"
    if text[:1] in ("v", "V") and _SEMVER.fullmatch(text[1:]):
        return "a version starts with its major number, without 'v'"
    core = re.split(r"[-+]", text, maxsplit=1)[0]
    numbers = core.split(".")
    if core and all(n.isascii() and n.isdigit() for n in numbers):
        if len(numbers) != 3:
            return f"it has {len(numbers)} number{'s' if len(numbers) != 1 else ''}, and a " \
                   "version has 3: MAJOR.MINOR.PATCH"
        if any(len(n) > 1 and n.startswith("0") for n in numbers):
            return "a number has a leading zero"
        rest = text[len(core):]
        if rest.startswith("-"):
            return "its pre-release (after '-') must be dot-separated identifiers of " \
                   "letters, digits and '-', numbers without leading zeros"
        return "its build metadata (after '+') must be dot-separated identifiers of " \
               "letters, digits and '-'"
    return "a version is MAJOR.MINOR.PATCH, such as \"1.0.0\""


def fix(text: str) -> str | None:
    """The semantic version ``text`` most likely means, when that is obvious (None: it is
    not, or ``text`` is already one): a leading ``v`` dropped, missing numbers added as 0,
    leading zeros dropped, spaces around it removed.

    >>> fix("1.0"), fix("v1.2.3"), fix("2"), fix("1.0-rc.1"), fix("banana"), fix("1.0.0")
    ('1.0.0', '1.2.3', '2.0.0', '1.0.0-rc.1', None, None)
    """
    if _SEMVER.fullmatch(text):
        return None
    m = _ALMOST.fullmatch(text.strip())
    if m is None:
        return None
    major, minor, patch, rest = m.groups()
    candidate = f"{int(major)}.{int(minor or 0)}.{int(patch or 0)}{rest or ''}"
    return candidate if _SEMVER.fullmatch(candidate) else None


def next_version(old: Version, bump: Bump) -> Version:
    """The smallest version after ``old`` that makes a ``bump``.

    Under major version zero (``0.y.z``, initial development: semver item 4) each need moves
    down one place, as Cargo and npm's caret ranges read it: a breaking change bumps the minor
    number, a compatible one the patch.  A pre-release leads to its own release, which may
    hold any change since (the changes were not released yet).

    >>> [str(next_version(Version.parse(v), Bump.MINOR)) for v in ("1.2.3", "0.2.3", "2.0.0-rc.1")]
    ['1.3.0', '0.2.4', '2.0.0']
    """
    if bump is Bump.NONE:
        return old
    if old.pre:
        return Version(*old.core)
    if old.major == 0:
        bump = Bump(bump - 1) if bump > Bump.PATCH else bump
    if bump is Bump.MAJOR:
        return Version(old.major + 1, 0, 0)
    if bump is Bump.MINOR:
        return Version(old.major, old.minor + 1, 0)
    return Version(old.major, old.minor, old.patch + 1)


def enough(old: Version, new: Version, bump: Bump) -> bool:
    """Whether going from ``old`` to ``new`` is a bump of at least ``bump``: ``new``'s numbers
    reach :func:`next_version` (a pre-release of that version counts, ``2.0.0-rc.1`` is a
    major bump from ``1.4.0``); from a pre-release, any later version is enough.

    >>> v = Version.parse
    >>> enough(v("1.4.0"), v("1.5.0"), Bump.MAJOR), enough(v("1.4.0"), v("2.0.0-rc.1"), Bump.MAJOR)
    (False, True)
    >>> enough(v("1.4.0"), v("1.4.0"), Bump.NONE)
    True
    >>> enough(v("2.0.0-rc.1"), v("2.0.0-rc.2"), Bump.MAJOR)
    True
    """
    if bump is Bump.NONE:
        return True
    if old.pre:
        return new > old
    return new.core >= next_version(old, bump).core


def bump_of(old: Version, new: Version) -> Bump:
    """Which number grew first from ``old`` to ``new`` (NONE: none did).

    >>> v = Version.parse
    >>> bump_of(v("0.2.3"), v("0.3.0")), bump_of(v("1.0.0"), v("1.0.0"))
    (<Bump.MINOR: 2>, <Bump.NONE: 0>)
    """
    for bump, a, b in ((Bump.MAJOR, old.major, new.major), (Bump.MINOR, old.minor, new.minor),
                       (Bump.PATCH, old.patch, new.patch)):
        if b != a:
            return bump if b > a else Bump.NONE
    return Bump.NONE


def need(old: Version, bump: Bump) -> str:
    """In words, what a change that needs ``bump`` asks of a version after ``old``.

    >>> need(Version.parse("1.2.0"), Bump.MAJOR), need(Version.parse("0.2.0"), Bump.MAJOR)
    ('a major bump, to 2.0.0', 'a minor bump (under 0.y.z), to 0.3.0')
    """
    target = next_version(old, bump)
    grew = bump_of(old, target)
    if grew is Bump.NONE:
        return f"a later version, such as {target}"
    return f"a {grew} bump{' (under 0.y.z)' if old.major == 0 else ''}, to {target}"
