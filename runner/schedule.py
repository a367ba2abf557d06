"""When a scheduled spec is due again: a pure function of its schedule, its last run and the clock.

A missed window (a dropped cron tick, a week without runners) gives one catch-up run, not
a burst: the next due time is computed from the last run, not from the missed ticks.
"""

from __future__ import annotations

from datetime import UTC, datetime

ALIASES = {
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 1",
    "monthly": "0 0 1 * *",
}


def cron_expression(schedule: str) -> str:
    """The 5-field UTC cron expression of a schedule (aliases expanded)."""
    return ALIASES.get(schedule, schedule)


def is_valid(schedule: str) -> bool:
    from croniter import croniter

    expression = cron_expression(schedule)  # croniter also takes 6 fields (seconds): we do not
    return len(expression.split()) == 5 and bool(croniter.is_valid(expression))


CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
)


def _bad_fields(schedule: str) -> str:
    """Which of the five fields is wrong (each checked alone, the others '*'), as a clause."""
    from croniter import croniter

    fields = cron_expression(schedule).split()
    if len(fields) != len(CRON_FIELDS):
        return f" (it has {len(fields)} fields, cron needs 5)"
    bad = []
    for i, (name, allowed) in enumerate(CRON_FIELDS):
        alone = " ".join(f if j == i else "*" for j, f in enumerate(fields))
        if not croniter.is_valid(alone):
            bad.append(f"{name} field '{fields[i]}' (allowed {allowed})")
    return f": bad {'; bad '.join(bad)}" if bad else ""


def schedule_problem(schedule: str) -> str | None:
    """Why a schedule cannot drive runs (bad cron fields, or a date that never comes), else None."""
    from croniter import CroniterBadDateError

    if not is_valid(schedule):
        return (
            f"schedule '{schedule}' is not a valid cron expression{_bad_fields(schedule)}; use "
            "daily, weekly, monthly or five fields 'minute hour day-of-month month "
            "day-of-week' (UTC)"
        )
    try:
        next_due(schedule, datetime(2000, 1, 1, tzinfo=UTC))
    except CroniterBadDateError:
        return f"schedule '{schedule}' never fires (no such date); fix the day/month fields"
    return None


def next_due(schedule: str, last_run: datetime) -> datetime:
    """The first schedule tick strictly after the last run started."""
    from croniter import croniter

    base = last_run.astimezone(UTC)
    return croniter(cron_expression(schedule), base).get_next(datetime).astimezone(UTC)


def is_due(schedule: str, last_run: datetime, now: datetime) -> bool:
    """True once a schedule tick has passed since the last run."""
    return now.astimezone(UTC) >= next_due(schedule, last_run)


def parse_time(text: str) -> datetime:
    """ISO 8601 UTC timestamps as written in lock files (no offset means UTC, not local time)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """Lock-file timestamps: UTC, second precision, trailing Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
