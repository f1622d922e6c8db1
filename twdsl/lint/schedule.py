"""TW510 bad-schedule: a workflow's ``schedule`` that is not a cron expression twdsl can run.

The one definition of what a schedule says, used by ``twdsl check`` and by ``twdsl server``
(which fires them, docs/server.md):

* five fields, ``minute hour day-of-month month day-of-week`` (``0 3 * * *``), or six with
  seconds first (``*/10 * * * * *``); the usual ``@hourly``, ``@daily``, ``@weekly``,
  ``@monthly``, ``@yearly``/``@annually`` and ``@midnight`` too;
* an optional time zone in front: ``TZ=Europe/Paris 0 3 * * *`` (``CRON_TZ=`` works too, as
  in Kubernetes); without one, times are UTC.

The expression itself is read by croniter (a well-kept cron library), never by a parser of
ours; this module only finds *where* a bad expression is wrong, so that the error points at
the field, and refuses what croniter would accept but a schedule cannot mean (a date that
never comes, such as the 31st of February).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.source import SourceFile
from twdsl.syntax import ast as A

CODE = CODES["TW510"]
ALIASES = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                     "@hourly"})
_FIELDS5 = ("minute", "hour", "day of month", "month", "day of week")
_FIELDS6 = ("second", *_FIELDS5)
_TZ = re.compile(r"(?:CRON_)?TZ=(\S*)")


class ScheduleError(ValueError):
    """A schedule that cannot be run: ``start``/``end`` are the offsets of the wrong part
    within the expression's text."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: the cron ``expr`` (without the zone) and its ``timezone``
    (an IANA name; None: UTC)."""

    text: str
    expr: str
    timezone: str | None

    @property
    def seconds(self) -> bool:
        """Whether the expression has a seconds field (six fields)."""
        return len(self.expr.split()) == 6

    def zone(self) -> tzinfo:
        if self.timezone is None:
            return UTC
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)

    def after(self, ts: float) -> float:
        """The first fire time strictly after ``ts`` (UTC epoch seconds)."""
        it = _croniter(self.expr, datetime.fromtimestamp(ts, self.zone()))
        return float(it.get_next(float))

    def latest(self, ts: float) -> float | None:
        """The last fire time at or before ``ts`` (None if there is none)."""
        it = _croniter(self.expr, datetime.fromtimestamp(ts, self.zone()))
        try:
            t = float(it.get_prev(float))
        except Exception:  # noqa: BLE001 - croniter found none
            return None
        nxt = self.after(t)
        return nxt if nxt <= ts else t

    def fires(self, since: float, until: float, limit: int = 1000) -> list[float]:
        """Fire times in ``(since, until]``, oldest first, at most ``limit``."""
        it = _croniter(self.expr, datetime.fromtimestamp(since, self.zone()))
        out: list[float] = []
        while len(out) < limit:
            t = float(it.get_next(float))
            if t > until:
                break
            out.append(t)
        return out


def parse_schedule(text: str) -> Schedule:
    """Read a schedule; raises ScheduleError naming the wrong part.

    >>> parse_schedule("TZ=Europe/Paris 0 3 * * *").timezone
    'Europe/Paris'
    >>> parse_schedule("0 3 * * 8")
    Traceback (most recent call last):
    ...
    twdsl.lint.schedule.ScheduleError: day of week '8' is not valid (0-7, or sun-sat)
    """
    body_start = 0
    timezone = None
    m = _TZ.match(text.lstrip())
    lead = len(text) - len(text.lstrip())
    if m is not None:
        timezone = m.group(1)
        tz_start = lead + m.start(1)
        tz_end = lead + m.end(1)
        if not timezone:
            raise ScheduleError("TZ= names no time zone: write e.g. TZ=Europe/Paris "
                                "before the cron fields", lead, tz_end)
        _check_zone(timezone, tz_start, tz_end)
        body_start = lead + m.end()
    body = text[body_start:]
    expr = " ".join(body.split())
    if not expr:
        raise ScheduleError("the schedule is empty: write a cron expression such as "
                            "\"0 3 * * *\" (every day at 03:00)", 0, len(text))
    fields = [(m.group(), body_start + m.start(), body_start + m.end())
              for m in re.finditer(r"\S+", body)]
    if expr.startswith("@"):
        if expr.lower() not in ALIASES or len(fields) != 1:
            raise ScheduleError(f"unknown schedule {expr!r}: the named ones are "
                                + ", ".join(sorted(ALIASES)), fields[0][1], fields[-1][2])
        expr = expr.lower()
    elif len(fields) not in (5, 6):
        raise ScheduleError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 (seconds first); this one has {len(fields)}",
            fields[0][1], fields[-1][2])
    else:
        names = _FIELDS5 if len(fields) == 5 else _FIELDS6
        for i, (value, start, end) in enumerate(fields):
            probe = ["*"] * len(fields)
            probe[i] = value
            if not _valid(" ".join(probe)):
                raise ScheduleError(f"{names[i]} {value!r} is not valid "
                                    f"({_RANGES[names[i]]})", start, end)
        if not _valid(expr):
            raise ScheduleError(f"{expr!r} is not a valid cron expression", fields[0][1],
                                fields[-1][2])
    schedule = Schedule(text, expr, timezone)
    try:
        schedule.after(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
    except Exception:  # noqa: BLE001 - croniter's own error: it never fires
        raise ScheduleError(f"{expr!r} never fires (no date matches it)",
                            fields[0][1] if fields else 0,
                            fields[-1][2] if fields else len(text)) from None
    return schedule


_RANGES = {
    "second": "0-59", "minute": "0-59", "hour": "0-23", "day of month": "1-31",
    "month": "1-12, or jan-dec", "day of week": "0-7, or sun-sat",
}


def _croniter(expr: str, start: datetime) -> Any:
    from croniter import croniter

    return croniter(expr, start, second_at_beginning=len(expr.split()) == 6)


def _valid(expr: str) -> bool:
    from croniter import croniter

    try:
        croniter(expr, datetime(2000, 1, 1, tzinfo=UTC),
                 second_at_beginning=len(expr.split()) == 6)
    except Exception:  # noqa: BLE001 - croniter raises several kinds for a bad field
        return False
    return True


def _check_zone(name: str, start: int, end: int) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}: use an IANA name such as "
                            "Europe/Paris or America/New_York (or UTC)", start, end) from None


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    source: SourceFile | None = None
    for decl in ctx.module.items:
        if not isinstance(decl, A.WorkflowDecl):
            continue
        field = decl.body.get("schedule")
        if field is None or not isinstance(field.value, A.StringLit):
            continue  # not a string: the type checker says so
        lit = field.value
        text = lit.value
        if text is None:
            yield Diagnostic(CODE.code, CODE.severity,
                             f"workflow '{decl.name.name}': a schedule cannot interpolate "
                             "values: write the cron expression literally", lit.span)
            continue
        try:
            parse_schedule(text)
        except ScheduleError as e:
            span = lit.span
            # point at the wrong field when the string is written without escapes
            if (lit.raw[1:-1] == text and span.end - span.start == len(lit.raw)
                    and e.end > e.start):
                if source is None:
                    source = SourceFile(span.file, ctx.text)
                span = source.span(span.start + 1 + e.start, span.start + 1 + e.end)
            yield Diagnostic(CODE.code, CODE.severity,
                             f"workflow '{decl.name.name}': bad schedule: {e.message}", span)


def workflow_schedules(module: A.Module) -> dict[str, str]:
    """Workflow name → the text of its ``schedule`` (a literal string), for the workflows
    that have one: what ``twdsl server`` fires."""
    out: dict[str, str] = {}
    for decl in module.items:
        if isinstance(decl, A.WorkflowDecl):
            field = decl.body.get("schedule")
            if field is not None and isinstance(field.value, A.StringLit):
                text = field.value.value
                if text is not None:
                    out[decl.name.name] = text
    return out
