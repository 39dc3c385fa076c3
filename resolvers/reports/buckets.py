"""Time buckets in an IANA time zone, daylight-saving correct, on PostgreSQL and SQLite.

Rows are grouped by the bucket's local wall-clock start (PostgreSQL: `date_trunc` of the time
`AT TIME ZONE`; SQLite: the `lg_bucket` function registered on the connection, as tortoise
registers `regexp`), and each group's start is then read back as an aware time in that zone.
"""

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from tortoise.backends.base.client import BaseDBAsyncClient

from api.errors import BadUserInput
from api.types.reports import TimeInterval
from models.sql import Sql, is_postgres


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(name: str | None) -> ZoneInfo:
    """The IANA zone of that name (UTC when none); an unknown name is BAD_USER_INPUT."""
    if name is None:
        return ZoneInfo("UTC")
    if name != "UTC" and name not in _known_zones():
        raise BadUserInput(f"timeZone: unknown IANA time zone {name!r} (e.g. Europe/Berlin).")
    return ZoneInfo(name)


def bucket_expr(expr: str, interval: TimeInterval, zone: ZoneInfo, q: Sql) -> str:
    """SQL for the local wall-clock start of `expr`'s bucket."""
    if q.postgres:
        return f"date_trunc('{interval.value}', {expr} AT TIME ZONE {q.typed(zone.key, 'text')})"
    return f"lg_bucket({expr}, '{interval.value}', {q.param(zone.key)})"


def bucket_start(value: object, zone: ZoneInfo) -> datetime | None:
    """A bucket key from the database as an aware time in `zone`."""
    if value is None:
        return None
    local = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(local, datetime)
    return local.replace(tzinfo=zone)


def truncate(local: datetime, unit: str) -> datetime:
    """The start of the DAY/WEEK (ISO, Monday)/MONTH/QUARTER/YEAR holding a wall-clock time."""
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _sqlite_bucket(value: str | None, unit: str, zone: str) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return truncate(local, unit).isoformat()


async def prepare(conn: BaseDBAsyncClient) -> None:
    """Registers `lg_bucket` on a SQLite connection once; nothing to do on PostgreSQL."""
    if is_postgres(conn):
        return
    raw = getattr(conn, "_connection", None)
    if raw is None:
        await conn.create_connection(with_db=True)
        raw = conn._connection  # type: ignore[attr-defined]
    if not getattr(raw, "_lg_bucket", False):
        await raw.create_function("lg_bucket", 3, _sqlite_bucket, deterministic=True)
        raw._lg_bucket = True
