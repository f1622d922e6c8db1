"""Schedules (TW510, twdsl/lint/schedule.py): what `twdsl check` accepts and where it points,
and the fire times the server computes from them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from twdsl.lint.schedule import ScheduleError, parse_schedule

BAD = [  # schedule, column of the error, width of its caret, words of the message
    ("0 25 * * *", 16, 2, "hour '25' is not valid (0-23)"),
    ("61 3 * * *", 14, 2, "minute '61' is not valid (0-59)"),
    ("0 3 * * 8", 22, 1, "day of week '8' is not valid (0-7, or sun-sat)"),
    ("0 3 * 13 *", 20, 2, "month '13' is not valid (1-12, or jan-dec)"),
    ("75 * * * * *", 14, 2, "second '75' is not valid (0-59)"),
    ("not a cron", 14, 10, "this one has 3"),
    ("TZ=Mars/Olympus 0 3 * * *", 17, 12, "unknown time zone 'Mars/Olympus'"),
    ("0 0 31 2 *", 14, 10, "never fires"),
    ("@sometimes", 14, 10, "unknown schedule '@sometimes'"),
    ("", 13, 2, "the schedule is empty"),
]
GOOD = ["0 3 * * *", "*/5 * * * * *", "@daily", "@HOURLY", "TZ=Europe/Paris 0 3 * * mon-fri",
        "CRON_TZ=America/New_York 30 8 1 * *", "0 0 29 2 *"]


def _file(schedules: list[str]) -> str:
    """One workflow per schedule, each five lines: the schedule of workflow i is on line
    5 * i + 3."""
    return "".join(f'workflow W{i} {{\n  version: "1.0.0"\n  schedule: "{s}"\n'
                   f'  task a {{ agent: "echo" }}\n}}\n' for i, s in enumerate(schedules))


def _check(tmp_path, text: str) -> subprocess.CompletedProcess[str]:
    f = tmp_path / "s.twdsl"
    f.write_text(text)
    return subprocess.run([sys.executable, "-m", "twdsl.cli", "check", "--format", "text",
                           "s.twdsl"], capture_output=True, text=True, cwd=tmp_path)


def test_a_bad_schedule_is_an_error_at_its_field(tmp_path) -> None:
    r = _check(tmp_path, _file([b[0] for b in BAD]))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if "error[TW510]" in line]
    assert len(heads) == len(BAD), r.stdout
    for n, (i, (_, column, width, message)) in enumerate(zip(heads, BAD, strict=True)):
        assert lines[i].startswith(f"s.twdsl:{5 * n + 3}:{column}: error[TW510] "
                                   f"workflow 'W{n}': bad schedule: "), lines[i]
        assert message in lines[i]
        caret = lines[i + 2]
        assert caret.index("^") - caret.index("|") - 1 == column, caret
        assert caret.count("^") == width, caret
    assert r.stderr.strip().endswith(f"checked 1 file: {len(BAD)} errors")


def test_good_schedules_check_clean(tmp_path) -> None:
    r = _check(tmp_path, _file(GOOD))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TW510" not in r.stdout


def test_an_interpolated_schedule_is_refused(tmp_path) -> None:
    f = tmp_path / "s.twdsl"
    f.write_text('workflow W {\n  version: "1.0.0"\n  input { h: string = "3" }\n'
                 '  schedule: "0 ${h} * * *"\n  task a { agent: "echo" input: { h: h } }\n}\n')
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", "check", str(f)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "error[TW510] workflow 'W': a schedule cannot interpolate values" in r.stdout


def test_fire_times_follow_the_time_zone_across_daylight_saving() -> None:
    s = parse_schedule("TZ=Europe/Paris 0 3 * * *")
    start = datetime(2026, 3, 27, tzinfo=UTC).timestamp()
    fires = [datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M")
             for t in s.fires(start, start + 3 * 86400)]
    # 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC from 29 March (summer time)
    assert fires == ["03-27 02:00", "03-28 02:00", "03-29 01:00"]


def test_seconds_field_and_utc_default() -> None:
    s = parse_schedule("*/15 * * * * *")
    assert s.seconds and s.timezone is None
    t0 = datetime(2026, 1, 1, 12, 0, 7, tzinfo=UTC).timestamp()
    assert [t - t0 for t in s.fires(t0, t0 + 60)] == [8.0, 23.0, 38.0, 53.0]
    assert s.after(t0) == t0 + 8


def test_schedule_error_offsets() -> None:
    with pytest.raises(ScheduleError) as e:
        parse_schedule("TZ=UTC 0 3 * * funday")
    assert (e.value.start, e.value.end) == (15, 21)
