"""Due-ness of scheduled specs on a frozen clock: month ends, leap days, DST, missed windows."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from runner.lock import Lock, RunRecord, RunStatus
from runner.plan import Kind, PlanInput, plan
from runner.schedule import (
    cron_expression,
    format_time,
    is_due,
    is_valid,
    next_due,
    parse_time,
    schedule_problem,
)
from runner.spec.loader import load_spec


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# (schedule, last run, expected next due)
NEXT_DUE = [
    # aliases: daily 00:00, weekly Monday 00:00, monthly the 1st 00:00 (UTC)
    ("daily", utc(2026, 1, 31, 10, 0), utc(2026, 2, 1)),
    ("daily", utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1)),
    ("weekly", utc(2026, 1, 31, 10, 0), utc(2026, 2, 2)),  # Saturday → Monday
    ("weekly", utc(2026, 2, 2), utc(2026, 2, 9)),  # exactly on a tick: strictly after
    ("weekly", utc(2026, 2, 2, 0, 0, 1), utc(2026, 2, 9)),
    ("monthly", utc(2026, 1, 31, 12, 0), utc(2026, 2, 1)),  # Jan 31 → Feb 1
    ("monthly", utc(2026, 2, 1), utc(2026, 3, 1)),
    ("monthly", utc(2026, 12, 15), utc(2027, 1, 1)),
    # cron: the 31st skips months without one
    ("0 6 31 * *", utc(2026, 1, 31, 7, 0), utc(2026, 3, 31, 6, 0)),
    ("0 6 30 * *", utc(2026, 1, 30, 7, 0), utc(2026, 3, 30, 6, 0)),  # no Feb 30
    # the last day of February in a leap year and in the next ordinary one
    ("0 0 29 2 *", utc(2023, 1, 1), utc(2024, 2, 29)),
    ("0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)),
    ("daily", utc(2024, 2, 28, 8, 0), utc(2024, 2, 29)),
    ("daily", utc(2024, 2, 29, 8, 0), utc(2024, 3, 1)),
    ("daily", utc(2025, 2, 28, 8, 0), utc(2025, 3, 1)),
    ("monthly", utc(2024, 2, 29, 8, 0), utc(2024, 3, 1)),
    ("*/15 * * * *", utc(2026, 3, 4, 12, 7), utc(2026, 3, 4, 12, 15)),
    ("30 2 * * 1-5", utc(2026, 3, 6, 3, 0), utc(2026, 3, 9, 2, 30)),  # Friday → Monday
    # Europe springs forward on 29 March 2026 at 01:00 UTC: UTC schedules do not notice
    ("0 2 * * *", utc(2026, 3, 28, 3, 0), utc(2026, 3, 29, 2, 0)),
    ("weekly", utc(2026, 3, 23, 0, 0, 1), utc(2026, 3, 30)),
    # ...and falls back on 25 October 2026 at 01:00 UTC
    ("0 1 * * *", utc(2026, 10, 24, 2, 0), utc(2026, 10, 25, 1, 0)),
    ("weekly", utc(2026, 10, 19, 12, 0), utc(2026, 10, 26)),
]


@pytest.mark.parametrize(("schedule", "last", "expected"), NEXT_DUE)
def test_next_due(schedule, last, expected):
    due = next_due(schedule, last)
    assert due == expected
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert not is_due(schedule, last, expected - timedelta(seconds=1))
    assert is_due(schedule, last, expected)
    assert is_due(schedule, last, expected + timedelta(days=400))


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_local_wall_clock_does_not_matter(zone):
    """A last-run time given in any zone is the same instant: the answer is the same."""
    for schedule, last, expected in NEXT_DUE:
        assert next_due(schedule, last.astimezone(zone)) == expected
        assert is_due(schedule, last, expected.astimezone(zone))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 3, 28, 12), utc(2026, 3, 30, 12)),  # Europe spring forward
        (utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)),  # Europe fall back
        (utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)),  # US spring forward
    ],
)
def test_hourly_ticks_stay_an_hour_apart_across_dst(start, end):
    moment, gaps = start, set()
    while moment < end:
        following = next_due("0 * * * *", moment)
        gaps.add(following - moment if moment.minute == 0 else None)
        moment = following
    assert gaps - {None} == {timedelta(hours=1)}


def test_dst_weekend_daily_sequence_is_every_24_hours():
    last = utc(2026, 3, 27)
    ticks = []
    for _ in range(4):
        last = next_due("daily", last.astimezone(BERLIN))
        ticks.append(last)
    assert ticks == [utc(2026, 3, 28), utc(2026, 3, 29), utc(2026, 3, 30), utc(2026, 3, 31)]


def test_missed_windows_give_one_catch_up_run_not_a_burst():
    last = utc(2026, 1, 26, 0, 5)  # a Monday run; five weekly ticks missed since
    now = utc(2026, 3, 4, 12, 0)  # Wednesday
    assert is_due("weekly", last, now)
    # next_due is computed from the last run, not from the missed ticks...
    assert next_due("weekly", last) == utc(2026, 2, 2)
    # ...so once the catch-up run happened (at now), nothing is due until the next Monday
    assert not is_due("weekly", now, now)
    assert not is_due("weekly", now, now + timedelta(hours=1))
    assert not is_due("weekly", now, utc(2026, 3, 8, 23, 59, 59))
    assert is_due("weekly", now, utc(2026, 3, 9))
    assert next_due("weekly", now) == utc(2026, 3, 9)


def test_missed_windows_through_the_planner(tmp_path: Path):
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "drift.toml"
    path.write_text(
        'name = "drift"\n[backend]\ntarget = "local:aer"\n[execution]\nschedule = "weekly"\n'
        '[[circuits]]\nname = "bell"\ntemplate = "bell"\n'
    )
    spec = load_spec(path, tmp_path)
    now = utc(2026, 3, 4, 12, 0)

    def run(n: int, created: datetime) -> RunRecord:
        stamp = format_time(created)
        return RunRecord(
            f"{n:04d}-{spec.run_hash[:8]}",
            spec.run_hash,
            "schedule",
            "local:aer",
            RunStatus.COMPLETED,
            stamp,
            stamp,
        )

    old = Lock("drift", (run(1, now - timedelta(weeks=5)),))
    [action] = plan(PlanInput([spec], {"drift": old}, now, trigger="schedule"))
    assert (action.kind, action.trigger) == (Kind.SUBMIT, "schedule")
    assert action.run_id == f"0002-{spec.run_hash[:8]}"

    caught_up = Lock("drift", (*old.runs, run(2, now)))
    for later in (now, now + timedelta(hours=1), utc(2026, 3, 8, 23, 0)):
        [action] = plan(PlanInput([spec], {"drift": caught_up}, later, trigger="schedule"))
        assert action.kind is Kind.NOOP
        assert action.reason == "up to date (next scheduled run 2026-03-09 00:00Z)"
    [action] = plan(PlanInput([spec], {"drift": caught_up}, utc(2026, 3, 9, 0, 1)))
    assert action.kind is Kind.SUBMIT
    assert action.run_id == f"0003-{spec.run_hash[:8]}"


def test_aliases_and_validity():
    assert cron_expression("daily") == "0 0 * * *"
    assert cron_expression("weekly") == "0 0 * * 1"
    assert cron_expression("monthly") == "0 0 1 * *"
    assert cron_expression("5 4 * * sun") == "5 4 * * sun"
    for good in ("daily", "weekly", "monthly", "5 4 * * sun", "*/10 1-3 * 1,6 *", "0 0 29 2 *"):
        assert is_valid(good), good
        assert schedule_problem(good) is None, good
    for bad in ("61 * * * *", "0 25 * * *", "* * * * * *", "fortnightly", "0 0 32 * *"):
        assert not is_valid(bad), bad
        assert "not a valid cron expression" in (schedule_problem(bad) or ""), bad


def test_a_schedule_that_never_fires_is_a_problem():
    assert "never fires" in (schedule_problem("0 0 30 2 *") or "")
    assert "never fires" in (schedule_problem("0 0 31 4 *") or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-04T12:00:00Z", utc(2026, 3, 4, 12)),
        ("2026-03-04T12:00:00+00:00", utc(2026, 3, 4, 12)),
        ("2026-03-04T13:00:00+01:00", utc(2026, 3, 4, 12)),
        ("2026-03-04T12:00:00", utc(2026, 3, 4, 12)),  # no offset: UTC, not local time
    ],
)
def test_parse_time(text, expected):
    moment = parse_time(text)
    assert moment == expected
    assert moment.utcoffset() == timedelta(0)


def test_format_time_round_trips_at_second_precision():
    moment = datetime(2026, 3, 29, 3, 30, 15, 999_999, tzinfo=BERLIN)
    text = format_time(moment)
    assert text == "2026-03-29T01:30:15Z"
    assert parse_time(text) == moment.replace(microsecond=0)
    assert format_time(parse_time(text)) == text


def test_times_are_utc_whatever_the_machine_zone():
    """Lock timestamps without an offset must not shift with TZ on the runner."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        assert parse_time("2026-03-04T12:00:00") == utc(2026, 3, 4, 12)
        assert next_due("daily", parse_time("2026-03-04T12:00:00")) == utc(2026, 3, 5)
        assert format_time(utc(2026, 3, 4, 12)) == "2026-03-04T12:00:00Z"
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
