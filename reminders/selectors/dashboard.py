"""The coordinators' dashboard: how the follow-up goes, per clinic.

Each figure is one query (grouped in the database), so the page costs the same
number of queries for ten patients as for ten thousand.
"""

import operator
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import reduce

from django.db.models import Count, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from ..models import (
    ENDING_KINDS,
    SENT_STATUSES,
    Channel,
    Clinic,
    Enrollment,
    EnrollmentStatus,
    Escalation,
    Message,
    MessageStatus,
    MilestoneKind,
    StatusReason,
    Topic,
)
from ..scheduling import local_day_bounds
from ..senders import SEGMENTS_PER_TEXT, clinic_sender

UTC = zoneinfo.ZoneInfo("UTC")

# The order statuses are stacked in the chart: outcomes first, then what waits.
CHART_STATUSES = [
    MessageStatus.DELIVERED, MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SKIPPED,
    MessageStatus.CANCELLED, MessageStatus.UNKNOWN, MessageStatus.SENDING, MessageStatus.QUEUED,
    MessageStatus.PAUSED, MessageStatus.PENDING,
]
# Messages that reached a provider or failed to: the denominator of the delivery rate.
ATTEMPTED = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.UNKNOWN]
WAITING = [MessageStatus.PENDING, MessageStatus.PAUSED]


@dataclass(frozen=True)
class DayCounts:
    day: date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class ChannelDelivery:
    channel: str
    attempted: int
    accepted: int  # sent or delivered: the provider took it
    delivered: int  # the provider confirmed delivery
    failed: int

    @property
    def accepted_rate(self) -> float | None:
        return self.accepted / self.attempted if self.attempted else None

    @property
    def delivered_rate(self) -> float | None:
        return self.delivered / self.attempted if self.attempted else None


@dataclass(frozen=True)
class OpenEscalation:
    escalation: Escalation
    age: timedelta


@dataclass(frozen=True)
class MilestoneCount:
    key: str
    label: str
    target: str
    cohort: int
    on_time: int
    late: int
    overdue: int  # deadline passed, nothing recorded
    not_yet_due: int


@dataclass(frozen=True)
class SenderBacklog:
    """SMS due and not yet handed to the provider, for one sender, and how long its rate needs for them."""

    sender: str
    clinics: list[str]
    waiting: int
    oldest_wait_seconds: float
    segments_per_second: float  # 0: no limit
    drain_seconds: float | None  # None: no limit, so no estimate


@dataclass(frozen=True)
class Dashboard:
    clinics: list[Clinic]
    zone: zoneinfo.ZoneInfo
    per_day: list[DayCounts]
    delivery: list[ChannelDelivery]
    failures: list[tuple[str, int]]
    open_escalations: list[OpenEscalation]
    open_escalation_total: int
    due_next: list[DayCounts]
    milestones: list[MilestoneCount]
    cohort_start: date
    senders: list[SenderBacklog] = field(default_factory=list)


def dashboard_zone(*, clinics: list[Clinic]) -> zoneinfo.ZoneInfo:
    """Days are counted in the clinic's zone; across clinics in several zones, in UTC."""
    zones = {clinic.time_zone for clinic in clinics}
    return zoneinfo.ZoneInfo(zones.pop()) if len(zones) == 1 else UTC


def dashboard_messages_per_day(
    *, clinic_ids: list[int], first: date, days: int, zone: zoneinfo.ZoneInfo
) -> list[DayCounts]:
    """Messages by the day (in ``zone``) they were due, and by status."""
    start, end = local_day_bounds(first=first, days=days, zone=zone)
    rows = (
        Message.objects.filter(enrollment__patient__clinic_id__in=clinic_ids, due_at__gte=start, due_at__lt=end)
        .annotate(day=TruncDate("due_at", tzinfo=zone))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        by_day[row["day"]][row["status"]] = row["n"]
    return [DayCounts(day=first + timedelta(days=i), counts=by_day.get(first + timedelta(days=i), {}))
            for i in range(days)]


def dashboard_delivery_by_channel(*, clinic_ids: list[int], since: datetime) -> list[ChannelDelivery]:
    """Per channel: of the messages a provider was asked to take since ``since``, how many it took."""
    rows = (
        Message.objects.filter(enrollment__patient__clinic_id__in=clinic_ids, status__in=ATTEMPTED,
                               due_at__gte=since)
        .values("channel")
        .annotate(
            attempted=Count("pk"),
            accepted=Count("pk", filter=Q(status__in=SENT_STATUSES)),
            delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        )
        .order_by()
    )
    found = {row["channel"]: row for row in rows}
    return [
        ChannelDelivery(channel=channel, **{k: found.get(channel, {}).get(k, 0)
                                            for k in ("attempted", "accepted", "delivered", "failed")})
        for channel in Channel.values
    ]


def dashboard_failures_by_code(*, clinic_ids: list[int], since: datetime) -> list[tuple[str, int]]:
    """Failed messages since ``since`` by the provider's error code, most frequent first."""
    rows = (
        Message.objects.filter(enrollment__patient__clinic_id__in=clinic_ids, status=MessageStatus.FAILED,
                               due_at__gte=since)
        .values("error_code")
        .annotate(n=Count("pk"))
        .order_by("-n", "error_code")
    )
    return [(row["error_code"], row["n"]) for row in rows]


def dashboard_open_escalations(
    *, clinic_ids: list[int], now: datetime, limit: int = 10
) -> tuple[list[OpenEscalation], int]:
    """The most urgent, then the oldest, open escalations, and how many are open in all."""
    open_ = Escalation.objects.filter(clinic_id__in=clinic_ids, acknowledged_at__isnull=True)
    shown = open_.select_related("patient", "clinic").order_by("urgency", "created_at")[:limit]
    return [OpenEscalation(escalation=e, age=now - e.created_at) for e in shown], open_.count()


def dashboard_due_next_days(
    *, clinic_ids: list[int], first: date, days: int, zone: zoneinfo.ZoneInfo
) -> list[DayCounts]:
    """Messages waiting to go out (pending, or held by a pause) per day, by channel."""
    start, end = local_day_bounds(first=first, days=days, zone=zone)
    rows = (
        Message.objects.filter(enrollment__patient__clinic_id__in=clinic_ids, status__in=WAITING,
                               due_at__gte=start, due_at__lt=end)
        .annotate(day=TruncDate("due_at", tzinfo=zone))
        .values("day", "channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = row["channel"] if row["status"] == MessageStatus.PENDING else "paused"
        by_day[row["day"]][key] += row["n"]
    return [DayCounts(day=first + timedelta(days=i), counts=dict(by_day.get(first + timedelta(days=i), {})))
            for i in range(days)]


# The milestones fracture liaison services report. A milestone is recorded on
# the patient's road (a Milestone: by a coordinator, a CSV or a check-in answer
# that records one), or, as before milestones existed, by a positive answer to
# a check-in on its topic ("yes", or reply 1) or a coordinator cancelling the
# enrollment as "Consultation attended".
BONE_DENSITY_DAYS = 12 * 7
TREATMENT_DAYS = 16 * 7
POSITIVE_ANSWER = Q(answers__value__iexact="yes") | Q(answers__value="1")
# Left out of the milestones: follow-up ended for reasons no clinic controls.
NOT_COUNTED = [StatusReason.DECEASED.label, StatusReason.MOVED_AWAY.label]


def _yes_to(topic: str) -> Min:
    return Min("answers__created_at", filter=Q(answers__step__topic=topic) & POSITIVE_ANSWER)


def _milestone(*kinds: str) -> Min:
    """The first date one of ``kinds`` is recorded on the patient's road for this enrollment (on or after
    its anchor: an earlier one is an earlier fracture's)."""
    return Min("patient__milestones__date", filter=Q(
        patient__milestones__kind__in=kinds, patient__milestones__withdrawn_at__isnull=True,
        patient__milestones__date__gte=F("anchor_date")))


def _first_day(*moments: datetime | None, on: date | None, zone: zoneinfo.ZoneInfo) -> date | None:
    """The earliest local day among answers and actions (moments) and a milestone (dated already)."""
    days = [moment.astimezone(zone).date() for moment in moments if moment] + ([on] if on else [])
    return min(days) if days else None


def dashboard_pathway_milestones(
    *, clinic_ids: list[int], today: date, cohort_days: int = 365
) -> tuple[list[MilestoneCount], date]:
    """For enrollments anchored in the last ``cohort_days``: which milestones are recorded, and when."""
    cohort_start = today - timedelta(days=cohort_days)
    consultation_action = Enrollment.history.model.objects.filter(
        id=OuterRef("pk"), status=EnrollmentStatus.CANCELLED,
        status_reason__startswith=StatusReason.CONSULTATION_ATTENDED.label,
    ).order_by("history_date").values("history_date")[:1]
    rows = (
        Enrollment.objects.filter(patient__clinic_id__in=clinic_ids, anchor_date__gte=cohort_start)
        .exclude(Q(status=EnrollmentStatus.CANCELLED)
                 & reduce(operator.or_, (Q(status_reason__startswith=reason) for reason in NOT_COUNTED)))
        .exclude(ended_by__kind__in=ENDING_KINDS)
        .annotate(
            consultation_yes=_yes_to(Topic.SPECIALIST_CONSULTATION),
            bone_density_yes=_yes_to(Topic.BONE_HEALTH),
            treatment_yes=_yes_to(Topic.MEDICATION),
            consultation_done=Subquery(consultation_action),
            consultation_recorded=_milestone(MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.CONSULTATION_ATTENDED),
            bone_density_recorded=_milestone(MilestoneKind.DXA_BOOKED, MilestoneKind.DXA_DONE),
            treatment_recorded=_milestone(MilestoneKind.TREATMENT_STARTED),
        )
        .values_list("anchor_date", "patient__clinic__consultation_target_days", "patient__time_zone",
                     "patient__clinic__time_zone", "consultation_yes", "consultation_done",
                     "bone_density_yes", "treatment_yes", "consultation_recorded", "bone_density_recorded",
                     "treatment_recorded")
        .order_by()
    )
    tallies = {key: defaultdict(int) for key in ("consultation", "bone_density", "treatment")}
    for (anchor, target_days, patient_zone, clinic_zone, consult_yes, consult_done, bone_yes, treat_yes,
         consult_on, bone_on, treat_on) in rows:
        zone = zoneinfo.ZoneInfo(patient_zone or clinic_zone)
        for key, days, day in (
            ("consultation", target_days, _first_day(consult_yes, consult_done, on=consult_on, zone=zone)),
            ("bone_density", BONE_DENSITY_DAYS, _first_day(bone_yes, on=bone_on, zone=zone)),
            ("treatment", TREATMENT_DAYS, _first_day(treat_yes, on=treat_on, zone=zone)),
        ):
            deadline = anchor + timedelta(days=days)
            tally = tallies[key]
            tally["cohort"] += 1
            if day is not None:
                tally["on_time" if day <= deadline else "late"] += 1
            else:
                tally["overdue" if today > deadline else "not_yet_due"] += 1
    labels = {
        "consultation": ("Specialist consultation booked or attended", "within the clinic's target days"),
        "bone_density": ("Bone density test booked or done", f"by {BONE_DENSITY_DAYS // 7} weeks"),
        "treatment": ("Osteoporosis treatment started", f"by {TREATMENT_DAYS // 7} weeks"),
    }
    counts = [
        MilestoneCount(key=key, label=labels[key][0], target=labels[key][1],
                       **{k: tallies[key][k] for k in ("cohort", "on_time", "late", "overdue", "not_yet_due")})
        for key in tallies
    ]
    return counts, cohort_start


def dashboard_sender_backlogs(*, clinics: list[Clinic], now: datetime) -> list[SenderBacklog]:
    """Each sender's texts due and not yet sent (pending, claimed or sending), with the expected drain time
    at the sender's rate (about two segments a text). Over the partial indexes of unsent rows."""
    waiting = (Message.objects.filter(channel=Channel.SMS, due_at__lte=now,
                                      status__in=[MessageStatus.PENDING, MessageStatus.QUEUED, MessageStatus.SENDING],
                                      enrollment__patient__clinic__in=clinics)
               .values_list("enrollment__patient__clinic_id").annotate(n=Count("id"), oldest=Min("due_at")))
    by_clinic = {clinic.pk: clinic for clinic in clinics}
    found: dict[str, dict] = {}
    for clinic_id, count, oldest in waiting:
        clinic = by_clinic[clinic_id]
        sender = clinic_sender(clinic)
        entry = found.setdefault(sender.address, {"sender": sender, "clinics": [], "waiting": 0, "oldest": oldest})
        entry["clinics"].append(clinic.name)
        entry["waiting"] += count
        entry["oldest"] = min(entry["oldest"], oldest)
    backlogs = []
    for address, entry in found.items():
        rate = entry["sender"].segments_per_second
        backlogs.append(SenderBacklog(
            sender=address, clinics=sorted(entry["clinics"]), waiting=entry["waiting"],
            oldest_wait_seconds=max((now - entry["oldest"]).total_seconds(), 0.0), segments_per_second=rate,
            drain_seconds=entry["waiting"] * SEGMENTS_PER_TEXT / rate if rate > 0 else None))
    return sorted(backlogs, key=lambda b: -(b.drain_seconds or 0))


def dashboard_build(*, clinics: list[Clinic], now: datetime | None = None, days: int = 14) -> Dashboard:
    """Everything on the dashboard for ``clinics`` (already scoped to the viewer)."""
    now = now or timezone.now()
    clinic_ids = [clinic.pk for clinic in clinics]
    zone = dashboard_zone(clinics=clinics)
    today = now.astimezone(zone).date()
    since, _ = local_day_bounds(first=today - timedelta(days=days - 1), days=days, zone=zone)
    open_escalations, open_total = dashboard_open_escalations(clinic_ids=clinic_ids, now=now)
    milestones, cohort_start = dashboard_pathway_milestones(clinic_ids=clinic_ids, today=today)
    return Dashboard(
        clinics=clinics,
        zone=zone,
        per_day=dashboard_messages_per_day(
            clinic_ids=clinic_ids, first=today - timedelta(days=days - 1), days=days, zone=zone),
        delivery=dashboard_delivery_by_channel(clinic_ids=clinic_ids, since=since),
        failures=dashboard_failures_by_code(clinic_ids=clinic_ids, since=since),
        open_escalations=open_escalations,
        open_escalation_total=open_total,
        due_next=dashboard_due_next_days(clinic_ids=clinic_ids, first=today, days=7, zone=zone),
        milestones=milestones,
        cohort_start=cohort_start,
        senders=dashboard_sender_backlogs(clinics=clinics, now=now),
    )
