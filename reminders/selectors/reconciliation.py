"""
The daily reconciliation: per clinic and channel, what was planned for a day
and what became of it, and whatever does not add up or is stuck. Counts only.

"Planned for a day" means the planned send time (``scheduled_at``) falls on
that calendar day in the clinic's time zone, whatever quiet hours, retries or
an outage did to the message afterwards.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from ..models import Channel, Clinic, Message, MessageStatus
from ..scheduling import local_day_bounds

S = MessageStatus
# Where each message of the day must end up counted. "sent" includes delivered
# (delivered is a subset of sent); every status falls in exactly one bucket but
# "delivered", so planned == the sum of the others.
BUCKETS = {
    "sent": [S.SENT, S.DELIVERED],
    "failed": [S.FAILED],
    "skipped": [S.SKIPPED],
    "cancelled": [S.CANCELLED],
    "pending": [S.PENDING],
    "paused": [S.PAUSED],
    "in_flight": [S.QUEUED, S.SENDING],
    "unknown": [S.UNKNOWN],
}
COLUMNS = ["planned", "sent", "delivered", *[name for name in BUCKETS if name != "sent"]]


def _stuck(now: datetime) -> dict[str, Q]:
    """What should not last, as filters: a message in one of these is flagged."""
    return {
        # The lease ran out and no dispatch cycle took the claim back.
        "claim_past_lease": Q(status__in=[S.QUEUED, S.SENDING])
        & (Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)),
        # Nobody settled an unknown outcome (callback or lookup) within the settle time.
        "unknown_past_settle": Q(status=S.UNKNOWN,
                                 updated_at__lt=now - timedelta(seconds=settings.UNKNOWN_SETTLE_AFTER_SECONDS)),
        # Due and still not claimed: the backlog the health check alerts on.
        "pending_overdue": Q(status=S.PENDING,
                             due_at__lt=now - timedelta(seconds=settings.HEALTH_BACKLOG_MAX_AGE_SECONDS)),
    }


def _inconsistent() -> dict[str, Q]:
    """Rows whose fields contradict their state."""
    return {
        "sent_without_time": Q(status__in=[S.SENT, S.DELIVERED], sent_at__isnull=True),
        "sms_sent_without_provider_id": Q(channel=Channel.SMS, status__in=[S.SENT, S.DELIVERED],
                                          provider_message_id=""),
        "delivered_without_time": Q(status=S.DELIVERED, delivered_at__isnull=True),
        "ended_without_reason": Q(status__in=[S.FAILED, S.SKIPPED, S.CANCELLED], reason=""),
    }


@dataclass(frozen=True)
class ReconciliationRow:
    clinic_id: int
    clinic: str
    channel: str
    counts: dict[str, int]
    flags: dict[str, int]  # only the non-zero ones

    def as_dict(self) -> dict:
        return {"clinic_id": self.clinic_id, "clinic": self.clinic, "channel": self.channel,
                **self.counts, "flags": self.flags}


@dataclass(frozen=True)
class Reconciliation:
    day: date
    checked_at: datetime
    rows: list[ReconciliationRow]
    stuck_now: dict[str, int] = field(default_factory=dict)  # any day, the whole service

    @property
    def flagged(self) -> bool:
        return any(row.flags for row in self.rows) or any(self.stuck_now.values())

    @property
    def totals(self) -> dict[str, int]:
        return {column: sum(row.counts[column] for row in self.rows) for column in COLUMNS}

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "checked_at": self.checked_at.isoformat(),
                "flagged": self.flagged, "rows": [row.as_dict() for row in self.rows],
                "totals": self.totals, "stuck_now": self.stuck_now}

    def as_table(self) -> str:
        header = ["clinic", "channel", *COLUMNS, "flags"]
        lines = [[f"{row.clinic} (#{row.clinic_id})", row.channel, *(str(row.counts[c]) for c in COLUMNS),
                  ", ".join(f"{name} {count}" for name, count in row.flags.items()) or "-"]
                 for row in self.rows]
        lines.append(["total", "", *(str(self.totals[c]) for c in COLUMNS), ""])
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

        def render(cells):
            return "  ".join(cell.ljust(w) if i < 2 or i == len(cells) - 1 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

        stuck = ", ".join(f"{name} {count}" for name, count in self.stuck_now.items())
        return "\n".join([
            f"Messages planned for {self.day:%Y-%m-%d} (each clinic's local day), "
            f"checked {self.checked_at:%Y-%m-%d %H:%M} UTC",
            render(header), *(render(line) for line in lines), "",
            f"Stuck now, any day: {stuck}",
            "FLAGGED: see the flags above." if self.flagged else "Nothing flagged.",
        ])


def reconciliation_for_day(*, day: date, now: datetime | None = None) -> Reconciliation:
    now = now or timezone.now()
    checks = {**_stuck(now), **_inconsistent()}
    aggregates = {
        "planned": Count("id"),
        **{name: Count("id", filter=Q(status__in=statuses)) for name, statuses in BUCKETS.items()},
        "delivered": Count("id", filter=Q(status=S.DELIVERED)),
        **{f"flag_{name}": Count("id", filter=condition) for name, condition in checks.items()},
    }
    rows = []
    for clinic in Clinic.objects.order_by("name", "pk"):
        start, end = local_day_bounds(first=day, zone=zoneinfo.ZoneInfo(clinic.time_zone))
        per_channel = (
            Message.objects.filter(enrollment__patient__clinic=clinic, scheduled_at__gte=start, scheduled_at__lt=end)
            .values("channel").order_by("channel").annotate(**aggregates)
        )
        for found in per_channel:
            counts = {column: found[column] for column in COLUMNS}
            flags = {name: found[f"flag_{name}"] for name in checks if found[f"flag_{name}"]}
            unaccounted = counts["planned"] - sum(counts[name] for name in BUCKETS)
            if unaccounted:
                flags["unaccounted"] = unaccounted  # a status no bucket knows
            rows.append(ReconciliationRow(clinic_id=clinic.pk, clinic=clinic.name, channel=found["channel"],
                                          counts=counts, flags=flags))
    stuck_now = Message.objects.aggregate(**{name: Count("id", filter=condition)
                                             for name, condition in _stuck(now).items()})
    return Reconciliation(day=day, checked_at=now, rows=rows, stuck_now=stuck_now)


def default_reconciliation_day(*, now: datetime | None = None) -> date:
    """Yesterday in UTC: by RECONCILE_HOUR_UTC (12:00) that day has ended in every time zone."""
    now = now or timezone.now()
    return now.astimezone(zoneinfo.ZoneInfo("UTC")).date() - timedelta(days=1)
