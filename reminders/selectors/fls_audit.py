"""The fracture liaison audit: per clinic and period, the patient-level measures a fracture
liaison service is graded on (after the IOF Capture the Fracture patient-level KPIs, 2020).

The definitions, as the README states them ("The fracture liaison audit"):

- The cohort: the clinic's enrollments whose anchor date lies between ``date_from`` and
  ``date_to`` inclusive, one per patient (the earliest anchor date).
- Each measure has a window in days after the anchor date, both ends included: the
  consultation from day 0 to the clinic's target days, the bone density scan (DXA) to day 84,
  bone medicine started and monitoring to day 112, still on medicine from day 308 to day 420.
- A window has closed by the as-of date when its last day is before the as-of date (the
  last day itself is still open: something may yet be recorded for it).
- Denominator: cohort members whose window has closed, less those with ``died`` or
  ``moved_away`` dated inside the window; for the 52-week measure, only patients with
  ``treatment_started`` recorded (whatever its date).
- Numerator: denominator members with the measure's milestone dated inside the window
  (a check-in answer counts on its day in the patient's zone).
- Percent: 100 x numerator / denominator to one decimal (halves up); the grade is read from
  that percent: red below 50, amber from 50 to 80 inclusive, green above 80; both None when
  the denominator is 0.

Only current milestones count (``withdrawn_at`` empty), read as they are recorded now: the
as-of date only decides which windows have closed. Three queries, whatever the cohort's size.
"""

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Q
from django.utils import timezone

from ..models import CheckInAnswer, Clinic, Enrollment, Milestone, MilestoneKind, Topic

K = MilestoneKind
# Milestones that take a patient out of a measure when dated inside its window.
LEAVING_KINDS = (K.DIED, K.MOVED_AWAY)
CONSULTATION = "consultation_within_target"
DXA = "dxa_within_12_weeks"
TREATMENT = "treatment_started_within_16_weeks"
MONITORING = "monitoring_within_16_weeks"
ON_TREATMENT = "on_treatment_at_52_weeks"
# A check-in on medicine that asks for an answer; any answer to it is a monitoring contact.
MEDICINE_CHECK_IN = "medicine_check_in"


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    short_label: str  # the chart's
    first_day: int
    last_day: int | None  # None: the clinic's consultation target days
    kinds: tuple[str, ...]  # any of these dated inside the window meets the measure
    only_treated: bool = False  # the denominator is only patients with treatment_started recorded


MEASURES = (
    Measure(
        key=CONSULTATION,
        label="Specialist consultation attended within the clinic's target",
        short_label="Consultation in target",
        first_day=0,
        last_day=None,
        kinds=(K.CONSULTATION_ATTENDED,),
    ),
    Measure(
        key=DXA,
        label="Bone density scan (DXA) done within 12 weeks",
        short_label="DXA by 12 weeks",
        first_day=0,
        last_day=84,
        kinds=(K.DXA_DONE,),
    ),
    Measure(
        key=TREATMENT,
        label="Bone medicine started within 16 weeks",
        short_label="Medicine by 16 weeks",
        first_day=0,
        last_day=112,
        kinds=(K.TREATMENT_STARTED,),
    ),
    Measure(
        key=MONITORING,
        label="Monitoring contact within 16 weeks (or a medicine check-in answered)",
        short_label="Monitoring by 16 weeks",
        first_day=0,
        last_day=112,
        kinds=(K.MONITORING_CONTACT, MEDICINE_CHECK_IN),
    ),
    Measure(
        key=ON_TREATMENT,
        label="Still on bone medicine at 52 weeks (of those who started it)",
        short_label="On medicine at 52 weeks",
        first_day=308,
        last_day=420,
        kinds=(K.ON_TREATMENT_CONFIRMED,),
        only_treated=True,
    ),
)
MILESTONE_KINDS = sorted({kind for m in MEASURES for kind in m.kinds if kind != MEDICINE_CHECK_IN} | set(LEAVING_KINDS))
GRADES = ("red", "amber", "green")
CSV_HEADER = ["key", "label", "numerator", "denominator", "percent", "grade"]


def fls_percent(*, numerator: int, denominator: int) -> Decimal | None:
    """100 x numerator / denominator to one decimal, halves rounded up (2 of 32 is 6.3); None for no denominator."""
    if not denominator:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def fls_grade(*, percent: Decimal | None) -> str | None:
    """The grade of a percent as published: red below 50, amber from 50 to 80 inclusive, green above 80."""
    if percent is None:
        return None
    if percent < 50:
        return "red"
    return "amber" if percent <= 80 else "green"


@dataclass(frozen=True)
class FlsKpi:
    key: str
    label: str
    short_label: str
    window: str  # in words: "days 0 to 84 after the anchor date"
    numerator: int
    denominator: int
    window_open: int  # cohort members (treated ones, for 52 weeks) whose window has not closed
    left: int  # left out: died or moved away inside the window

    @property
    def percent(self) -> Decimal | None:
        return fls_percent(numerator=self.numerator, denominator=self.denominator)

    @property
    def grade(self) -> str | None:
        return fls_grade(percent=self.percent)

    def as_dict(self) -> dict:
        percent = self.percent
        return {
            "key": self.key,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "percent": None if percent is None else float(percent),
            "grade": self.grade,
        }


@dataclass(frozen=True)
class FlsAudit:
    clinic: Clinic
    date_from: date
    date_to: date
    as_of: date
    cohort: int  # patients
    kpis: list[FlsKpi]

    def as_dict(self) -> dict:
        return {
            "clinic": self.clinic.name,
            "clinic_id": self.clinic.pk,
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "as_of": self.as_of.isoformat(),
            "cohort": self.cohort,
            "kpis": [kpi.as_dict() for kpi in self.kpis],
        }

    def csv_rows(self) -> list[list[str]]:
        """The figures as CSV rows, header first: the command's ``--csv`` and the admin's download."""
        return [
            CSV_HEADER,
            *(
                [
                    kpi.key,
                    kpi.label,
                    str(kpi.numerator),
                    str(kpi.denominator),
                    "" if kpi.percent is None else str(kpi.percent),
                    kpi.grade or "",
                ]
                for kpi in self.kpis
            ),
        ]

    def as_table(self) -> str:
        header = ["Measure", "Numerator", "Denominator", "Percent", "Grade", "Window open", "Left out"]
        lines = [
            [
                kpi.label,
                str(kpi.numerator),
                str(kpi.denominator),
                "-" if kpi.percent is None else f"{kpi.percent} %",
                kpi.grade or "-",
                str(kpi.window_open),
                str(kpi.left),
            ]
            for kpi in self.kpis
        ]
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

        def render(cells: list[str]) -> str:
            return "  ".join(
                cell.ljust(width) if i in (0, 4) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        return "\n".join(
            [
                f"Fracture liaison audit: {self.clinic.name} (#{self.clinic.pk}), anchor dates "
                f"{self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d}, as of {self.as_of:%Y-%m-%d}",
                f"Cohort: {self.cohort} patient{'' if self.cohort == 1 else 's'} (the earliest enrollment of each)",
                "",
                render(header),
                *(render(line) for line in lines),
                "",
                "Window open: not counted yet. Left out: died or moved away inside the window.",
            ]
        )


def fls_audit_today(*, clinic: Clinic, now: datetime | None = None) -> date:
    """Today in the clinic's zone: the default as-of date."""
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(clinic.time_zone)).date()


def fls_audit_problems(
    *, clinic: Clinic, date_from: date, date_to: date, as_of: date | None, now: datetime | None = None
) -> dict[str, str]:
    """What is wrong with an audit's period, by argument ("date_to", "as_of"); empty when nothing."""
    problems = {}
    if date_from > date_to:
        problems["date_to"] = f"{date_to:%Y-%m-%d} is before the start of the period, {date_from:%Y-%m-%d}."
    today = fls_audit_today(clinic=clinic, now=now)
    if as_of is not None and as_of > today:
        problems["as_of"] = (
            f"{as_of:%Y-%m-%d} is after today ({today:%Y-%m-%d} in the clinic's zone): "
            "windows would count as closed before they have."
        )
    return problems


def _window(measure: Measure, *, clinic: Clinic) -> tuple[int, int]:
    return measure.first_day, clinic.consultation_target_days if measure.last_day is None else measure.last_day


def _dated_inside(recorded: dict[str, list[date]], *, kinds: tuple[str, ...], start: date, end: date) -> bool:
    return any(start <= day <= end for kind in kinds for day in recorded[kind])


def fls_audit(*, clinic: Clinic, date_from: date, date_to: date, as_of: date | None = None) -> FlsAudit:
    """The audit of ``clinic``'s patients anchored from ``date_from`` to ``date_to``, as of ``as_of``
    (default: today in the clinic's zone). See the module's docstring for the definitions."""
    as_of = as_of or fls_audit_today(clinic=clinic)
    enrollments = Enrollment.objects.filter(
        patient__clinic=clinic, anchor_date__gte=date_from, anchor_date__lte=date_to
    )
    cohort = {
        row["patient_id"]: (row["anchor"], zoneinfo.ZoneInfo(row["patient__time_zone"] or clinic.time_zone))
        for row in enrollments.values("patient_id", "patient__time_zone").annotate(anchor=Min("anchor_date")).order_by()
    }
    patients = enrollments.values("patient_id")
    last_day = max(_window(measure, clinic=clinic)[1] for measure in MEASURES)

    dates: dict[int, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))
    milestones = (
        Milestone.objects.filter(patient__in=patients, withdrawn_at__isnull=True, kind__in=MILESTONE_KINDS)
        # treatment_started counts for the 52-week denominator whatever its date.
        .filter(Q(kind=K.TREATMENT_STARTED) | Q(date__gte=date_from, date__lte=date_to + timedelta(days=last_day)))
        .values_list("patient_id", "kind", "date")
        .order_by()
    )
    for patient_id, kind, day in milestones:
        dates[patient_id][kind].append(day)
    # Answers by the day they came in, in the patient's zone (a day's margin for any zone).
    earliest = datetime.combine(date_from - timedelta(days=1), time.min, tzinfo=zoneinfo.ZoneInfo("UTC"))
    latest = datetime.combine(date_to + timedelta(days=last_day + 2), time.min, tzinfo=zoneinfo.ZoneInfo("UTC"))
    answers = (
        CheckInAnswer.objects.filter(
            enrollment__patient__in=patients,
            step__topic=Topic.MEDICATION,
            created_at__gte=earliest,
            created_at__lt=latest,
        )
        .exclude(step__asks="")
        .values_list("enrollment__patient_id", "created_at")
        .order_by()
    )
    for patient_id, moment in answers:
        dates[patient_id][MEDICINE_CHECK_IN].append(moment.astimezone(cohort[patient_id][1]).date())

    kpis = []
    for measure in MEASURES:
        first, last = _window(measure, clinic=clinic)
        numerator = denominator = window_open = left = 0
        for patient_id, (anchor, _zone) in cohort.items():
            recorded = dates[patient_id]
            if measure.only_treated and not recorded[K.TREATMENT_STARTED]:
                continue
            start, end = anchor + timedelta(days=first), anchor + timedelta(days=last)
            if not end < as_of:
                window_open += 1
            elif _dated_inside(recorded, kinds=LEAVING_KINDS, start=start, end=end):
                left += 1
            else:
                denominator += 1
                numerator += _dated_inside(recorded, kinds=measure.kinds, start=start, end=end)
        label = measure.label if measure.last_day is not None else f"{measure.label} ({last} days)"
        kpis.append(
            FlsKpi(
                key=measure.key,
                label=label,
                short_label=measure.short_label,
                window=f"days {first} to {last} after the anchor date",
                numerator=numerator,
                denominator=denominator,
                window_open=window_open,
                left=left,
            )
        )
    return FlsAudit(clinic=clinic, date_from=date_from, date_to=date_to, as_of=as_of, cohort=len(cohort), kpis=kpis)
