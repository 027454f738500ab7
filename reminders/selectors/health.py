"""
Reads for the health check: the database, Redis (the broker), the last dispatch
cycle beat started, and the oldest due message not yet sent. Counts, ages and
states only: nothing here may name a patient.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone
from redis import RedisError

from ..models import Message, MessageStatus
from ..redis_client import BEAT_HEARTBEAT_KEY, get_redis


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""  # why it is not ok, in words; never data
    values: dict = field(default_factory=dict)  # numbers, times and limits

    def as_dict(self) -> dict:
        return {"ok": self.ok, **({"detail": self.detail} if self.detail else {}), **self.values}


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    checks: dict[str, Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "checks": {name: check.as_dict() for name, check in self.checks.items()},
        }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure is the answer, never an error of the check
        return Check(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Check(ok=True)


def redis_check() -> Check:
    try:
        get_redis().ping()
    except RedisError as exc:
        return Check(ok=False, detail=f"unreachable ({type(exc).__name__})")
    return Check(ok=True)


def beat_check(*, now: datetime, redis_ok: bool = True) -> Check:
    """When a worker last started a dispatch cycle that beat scheduled."""
    limit = settings.HEALTH_BEAT_MAX_AGE_SECONDS
    values = {"last_run_at": None, "last_run_age_seconds": None, "max_age_seconds": limit}
    if not redis_ok:
        return Check(ok=False, detail="unknown: Redis is unreachable", values=values)
    try:
        raw = get_redis().get(BEAT_HEARTBEAT_KEY)
    except RedisError as exc:
        return Check(ok=False, detail=f"unknown: Redis is unreachable ({type(exc).__name__})", values=values)
    try:
        last = datetime.fromtimestamp(float(raw), tz=UTC)
    except (TypeError, ValueError):
        return Check(ok=False, detail="no dispatch cycle recorded", values=values)
    age = max((now - last).total_seconds(), 0.0)
    values.update(last_run_at=last.isoformat(), last_run_age_seconds=round(age, 1))
    if age > limit:
        return Check(ok=False, detail=f"no dispatch cycle for {_minutes(age)} (limit {_minutes(limit)})",
                     values=values)
    return Check(ok=True, values=values)


# Due and not handed to the provider yet: waiting in the schedule, claimed and waiting for a
# worker, or being sent. A backlog stuck in the workers' queue counts as much as one in the schedule.
WAITING_STATUSES = (MessageStatus.PENDING, MessageStatus.QUEUED, MessageStatus.SENDING)


def backlog_check(*, now: datetime, database_ok: bool = True) -> Check:
    """The oldest message due but not yet sent (pending, claimed or sending), over the partial indexes."""
    limit = settings.HEALTH_BACKLOG_MAX_AGE_SECONDS
    values = {"due_count": None, "oldest_due_age_seconds": None, "max_age_seconds": limit, "by_status": None}
    if not database_ok:
        return Check(ok=False, detail="unknown: the database is unreachable", values=values)
    try:
        by_status = {status: found for status, found in (
            (status, Message.objects.filter(status=status, due_at__lte=now).aggregate(
                oldest=Min("due_at"), count=Count("pk"))) for status in WAITING_STATUSES)}
    except Exception as exc:
        return Check(ok=False, detail=f"unknown: {type(exc).__name__}", values=values)
    count = sum(found["count"] for found in by_status.values())
    oldest = min((found["oldest"] for found in by_status.values() if found["oldest"]), default=None)
    age = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    values.update(due_count=count, oldest_due_age_seconds=age,
                  by_status={str(status): found["count"] for status, found in by_status.items()})
    if age > limit:
        return Check(ok=False, detail=f"{count} due messages waiting, the oldest for {_minutes(age)} "
                                      f"(limit {_minutes(limit)})", values=values)
    return Check(ok=True, values=values)


def health_report(*, now: datetime | None = None) -> HealthReport:
    now = now or timezone.now()
    database = database_check()
    redis = redis_check()
    return HealthReport(checked_at=now, checks={
        "database": database,
        "redis": redis,
        "beat": beat_check(now=now, redis_ok=redis.ok),
        "backlog": backlog_check(now=now, database_ok=database.ok),
    })
