"""Time helpers every client and the host share: hours, local midnights, wire times."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

HOUR = timedelta(hours=1)


def utc_iso(moment: datetime) -> str:
    """Return a moment as RFC 3339 UTC to the second ("2024-06-12T15:00:00Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_floor(moment: datetime) -> datetime:
    """Return the start of the UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def local_midnight(moment: datetime, zone: tzinfo) -> datetime:
    """Return the start of the local day a moment falls in, aware in that zone.

    zoneinfo resolves the wall time with the offset in force on that date, so
    this is right on both sides of a daylight saving change (where midnight
    is skipped, the instant is the first of the day once converted).
    """
    return datetime.combine(moment.astimezone(zone).date(), time(0), tzinfo=zone)


def next_local_midnight(moment: datetime, zone: tzinfo) -> datetime:
    """Return the first local midnight after a moment, aware in that zone."""
    day = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=zone)
