"""The fracture liaison audit (issue 14, item 7) on data sets whose answers are worked out by hand."""

import zoneinfo
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from reminders.models import CheckInAnswer, InboundMessage, MilestoneKind
from reminders.selectors.fls_audit import fls_audit, fls_audit_problems, fls_grade, fls_percent
from tests.factories import EnrollmentFactory, MilestoneFactory
from tests.moments import NOW, UTC, utc

K = MilestoneKind
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

A = date(2025, 1, 6)  # the anchor date of most of the cohort, and the first day of the period
PERIOD_END = date(2026, 5, 31)
AS_OF = date(2026, 6, 2)


@pytest.fixture
def check_ins(make_program):
    """A program with a medicine check-in that asks, one that does not, and a pain check-in."""
    return make_program(
        slug="check-ins",
        steps=[
            {"key": "pain", "offset_days": 7, "topic": "pain", "asks": "pain_score"},
            {"key": "medicine-note", "offset_days": 14, "topic": "medication"},
            {"key": "medicine", "offset_days": 30, "topic": "medication", "asks": "yes_no"},
        ],
    )


def enroll(clinic, program, anchor: date, patient=None, **patient_fields):
    """An enrollment anchored on ``anchor``, made that afternoon (inside the backdate window)."""
    moment = datetime.combine(anchor, time(16, 0), tzinfo=UTC)
    if patient is not None:
        return EnrollmentFactory(patient=patient, program=program, anchor_date=anchor, enrolled_at=moment)
    fields = {f"patient__{name}": value for name, value in patient_fields.items()}
    return EnrollmentFactory(patient__clinic=clinic, program=program, anchor_date=anchor, enrolled_at=moment, **fields)


def milestone(enrollment, kind, day: int, *, withdrawn: bool = False):
    """``kind`` dated ``day`` days after the enrollment's anchor date."""
    return MilestoneFactory(
        patient=enrollment.patient,
        kind=kind,
        date=enrollment.anchor_date + timedelta(days=day),
        withdrawn_at=NOW if withdrawn else None,
    )


def answer(enrollment, step_key: str, at: datetime, value: str = "no"):
    """A check-in answer that came in at ``at``."""
    inbound = InboundMessage.objects.create(
        provider_message_id=f"SM{enrollment.pk}-{step_key}-{at:%Y%m%d%H%M}",
        from_number=str(enrollment.patient.mobile),
        kind="answer",
        clinic=enrollment.patient.clinic,
        patient=enrollment.patient,
        enrollment=enrollment,
    )
    item = CheckInAnswer.objects.create(
        enrollment=enrollment, step=enrollment.program.steps.get(key=step_key), inbound=inbound, value=value
    )
    CheckInAnswer.objects.filter(pk=item.pk).update(created_at=at)


def figures(audit):
    return {
        kpi.key: (
            kpi.numerator,
            kpi.denominator,
            None if kpi.percent is None else float(kpi.percent),
            kpi.grade,
            kpi.window_open,
            kpi.left,
        )
        for kpi in audit.kpis
    }


def test_the_audit_of_a_data_set_worked_out_by_hand(clinic, clinic_b, check_ins, make_program):
    clinic.consultation_target_days = 21  # read from the clinic, not the default 14
    clinic.save()
    second_program = make_program(slug="second", kind="after_diagnosis")

    # P1: every milestone on a window's edge that is still inside: the anchor day, days 84, 112 and 420.
    p1 = enroll(clinic, check_ins, A)
    milestone(p1, K.CONSULTATION_ATTENDED, 0)
    milestone(p1, K.DXA_DONE, 84)
    milestone(p1, K.TREATMENT_STARTED, 112)
    milestone(p1, K.MONITORING_CONTACT, 50)
    milestone(p1, K.ON_TREATMENT_CONFIRMED, 420)
    # P2: every milestone a day outside: days 22, 85, 113, 113; on medicine on days 307 and 421.
    p2 = enroll(clinic, check_ins, A)
    milestone(p2, K.CONSULTATION_ATTENDED, 22)
    milestone(p2, K.DXA_DONE, 85)
    milestone(p2, K.TREATMENT_STARTED, 113)  # late, but recorded: P2 is in the 52-week measure
    milestone(p2, K.MONITORING_CONTACT, 113)
    milestone(p2, K.ON_TREATMENT_CONFIRMED, 307)
    milestone(p2, K.ON_TREATMENT_CONFIRMED, 421)
    # P3: consultation on day 10, died on day 60: inside the DXA, medicine and monitoring windows,
    # outside the consultation's (21 days); the scan on day 30 is not counted, P3 is left out.
    p3 = enroll(clinic, check_ins, A)
    milestone(p3, K.CONSULTATION_ATTENDED, 10)
    milestone(p3, K.DXA_DONE, 30)
    milestone(p3, K.DIED, 60)
    # P4: scan on day 20, died on day 100: after the DXA window (stays), inside the 112-day ones (left out).
    p4 = enroll(clinic, check_ins, A)
    milestone(p4, K.DXA_DONE, 20)
    milestone(p4, K.DIED, 100)
    # P5: moved away on day 5: inside every window from the anchor.
    p5 = enroll(clinic, check_ins, A)
    milestone(p5, K.MOVED_AWAY, 5)
    milestone(p5, K.CONSULTATION_ATTENDED, 3)
    # P6: everything withdrawn: a death, a consultation, a scan, medicine started; none counts.
    p6 = enroll(clinic, check_ins, A)
    for kind, day in ((K.DIED, 10), (K.CONSULTATION_ATTENDED, 3), (K.DXA_DONE, 40), (K.TREATMENT_STARTED, 20)):
        milestone(p6, kind, day, withdrawn=True)
    # P7: a medicine check-in answered at 23:30 in New York on day 112 (day 113 in UTC): monitoring met;
    # still on medicine on day 350 but never recorded as started: not in the 52-week measure.
    p7 = enroll(clinic, check_ins, A)
    answer(p7, "medicine", datetime.combine(A + timedelta(days=112), time(23, 30), tzinfo=NEW_YORK), value="no")
    milestone(p7, K.ON_TREATMENT_CONFIRMED, 350)
    # P8 (in Tokyo): answers that are no medicine check-in (pain; medication without a question), and a
    # medicine check-in at 01:00 UTC the day after day 112: day 112 in New York, day 113 in Tokyo (out).
    p8 = enroll(clinic, check_ins, A, time_zone="Asia/Tokyo")
    answer(p8, "pain", utc(2025, 1, 16, 15), value="3")
    answer(p8, "medicine-note", utc(2025, 1, 26, 15), value="ok")
    assert A + timedelta(days=112) == date(2025, 4, 28)
    answer(p8, "medicine", utc(2025, 4, 29, 1), value="yes")
    # P9: two enrollments, anchored on A and on day 100; the earliest counts: a consultation on day 105
    # and a scan on day 150 fall in the later one's windows only. A monitoring contact on day 60.
    p9 = enroll(clinic, check_ins, A)
    enroll(clinic, second_program, A + timedelta(days=100), patient=p9.patient)
    milestone(p9, K.CONSULTATION_ATTENDED, 105)
    milestone(p9, K.DXA_DONE, 150)
    milestone(p9, K.MONITORING_CONTACT, 60)
    # P10: the consultation window's last day (11 May + 21 = 1 June) is the day before the as-of date:
    # closed, and the consultation on that last day counts. Its other windows are open.
    p10 = enroll(clinic, check_ins, date(2026, 5, 11))
    milestone(p10, K.CONSULTATION_ATTENDED, 21)
    milestone(p10, K.DXA_DONE, 10)
    # P11: the consultation window's last day (12 May + 21) is the as-of date itself: still open.
    p11 = enroll(clinic, check_ins, date(2026, 5, 12))
    milestone(p11, K.CONSULTATION_ATTENDED, 3)
    # P14: anchored on the period's last day: in the cohort, every window open.
    enroll(clinic, check_ins, PERIOD_END)
    # Not in the cohort: anchored the day before the period and the day after; another clinic's patient.
    before = enroll(clinic, check_ins, A - timedelta(days=1))
    milestone(before, K.CONSULTATION_ATTENDED, 1)
    enroll(clinic, check_ins, PERIOD_END + timedelta(days=1))
    other = enroll(clinic_b, check_ins, A)
    for kind, day in (
        (K.CONSULTATION_ATTENDED, 1),
        (K.DXA_DONE, 1),
        (K.TREATMENT_STARTED, 1),
        (K.MONITORING_CONTACT, 1),
        (K.ON_TREATMENT_CONFIRMED, 400),
    ):
        milestone(other, kind, day)

    audit = fls_audit(clinic=clinic, date_from=A, date_to=PERIOD_END, as_of=AS_OF)

    # Cohort: P1-P11 and P14, P9 once: 12 patients.
    assert audit.cohort == 12
    assert figures(audit) == {
        # Window days 0-21, closed when the anchor is before 12 May 2026: P1-P10; open: P11, P14 (2).
        # Left out: P5 (moved day 5) (1); P3 (died day 60) and P6 (withdrawn death) stay.
        # Denominator P1 P2 P3 P4 P6 P7 P8 P9 P10 = 9; numerator P1 (day 0), P3 (day 10), P10 (day 21) = 3.
        # 100 x 3 / 9 = 33.33 -> 33.3, red.
        "consultation_within_target": (3, 9, 33.3, "red", 2, 1),
        # Days 0-84, closed for P1-P9; open: P10, P11, P14 (3). Left out: P3 (day 60), P5 (day 5) (2).
        # Denominator P1 P2 P4 P6 P7 P8 P9 = 7; numerator P1 (day 84), P4 (day 20) = 2. 200 / 7 = 28.57 -> 28.6.
        "dxa_within_12_weeks": (2, 7, 28.6, "red", 3, 2),
        # Days 0-112, closed for P1-P9; open 3. Left out: P3 (60), P4 (100), P5 (5) (3).
        # Denominator P1 P2 P6 P7 P8 P9 = 6; numerator P1 (day 112) = 1. 100 / 6 = 16.67 -> 16.7.
        "treatment_started_within_16_weeks": (1, 6, 16.7, "red", 3, 3),
        # The same denominator, 6; numerator P1 (contact day 50), P7 (check-in on day 112 in New York),
        # P9 (contact day 60) = 3. 300 / 6 = 50.0: amber (50 is amber).
        "monitoring_within_16_weeks": (3, 6, 50.0, "amber", 3, 3),
        # Only P1 and P2 have medicine started recorded (P6's is withdrawn, P7 has none); days 308-420,
        # closed for both (6 Jan 2025 + 420 = 2 Mar 2026). Numerator P1 (day 420); P2's days 307 and 421 are
        # outside. 100 x 1 / 2 = 50.0, amber.
        "on_treatment_at_52_weeks": (1, 2, 50.0, "amber", 0, 0),
    }
    assert [kpi.key for kpi in audit.kpis] == [
        "consultation_within_target",
        "dxa_within_12_weeks",
        "treatment_started_within_16_weeks",
        "monitoring_within_16_weeks",
        "on_treatment_at_52_weeks",
    ]
    assert audit.kpis[0].label.endswith("(21 days)")


def test_a_window_closes_the_day_after_its_last_day(clinic, check_ins):
    enrollment = enroll(clinic, check_ins, A)
    milestone(enrollment, K.DXA_DONE, 84)
    last_day = A + timedelta(days=84)

    on_last_day = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=last_day)
    day_after = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=last_day + timedelta(days=1))

    assert figures(on_last_day)["dxa_within_12_weeks"] == (0, 0, None, None, 1, 0)
    assert figures(day_after)["dxa_within_12_weeks"] == (1, 1, 100.0, "green", 0, 0)


def test_amber_at_exactly_80_green_above_and_nothing_for_no_denominator(clinic, check_ins):
    patients = [enroll(clinic, check_ins, A) for _ in range(5)]
    for enrollment in patients[:4]:
        milestone(enrollment, K.DXA_DONE, 30)

    audit = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=AS_OF)
    assert figures(audit)["dxa_within_12_weeks"] == (4, 5, 80.0, "amber", 0, 0)  # 400 / 5 = 80.0
    # Nobody has medicine started recorded: no denominator, no percent, no grade.
    assert figures(audit)["on_treatment_at_52_weeks"] == (0, 0, None, None, 0, 0)
    assert audit.as_dict()["kpis"][4] == {
        "key": "on_treatment_at_52_weeks",
        "numerator": 0,
        "denominator": 0,
        "percent": None,
        "grade": None,
    }

    milestone(enroll(clinic, check_ins, A), K.DXA_DONE, 0)
    audit = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=AS_OF)
    assert figures(audit)["dxa_within_12_weeks"] == (5, 6, 83.3, "green", 0, 0)  # 500 / 6 = 83.33


@pytest.mark.parametrize(
    ("numerator", "denominator", "percent", "grade"),
    [
        (0, 0, None, None),
        (0, 3, Decimal("0.0"), "red"),
        (1, 2, Decimal("50.0"), "amber"),
        (4, 5, Decimal("80.0"), "amber"),
        (2, 3, Decimal("66.7"), "amber"),
        (1, 16, Decimal("6.3"), "red"),  # 6.25: halves up
        (999, 2000, Decimal("50.0"), "amber"),  # 49.95 is published as 50.0, and graded as published
        (2001, 2500, Decimal("80.0"), "amber"),  # 80.04
        (2003, 2500, Decimal("80.1"), "green"),  # 80.12
        (1, 1, Decimal("100.0"), "green"),
    ],
)
def test_percent_to_one_decimal_and_its_grade(numerator, denominator, percent, grade):
    assert fls_percent(numerator=numerator, denominator=denominator) == percent
    assert fls_grade(percent=fls_percent(numerator=numerator, denominator=denominator)) == grade


def test_the_earliest_enrollment_inside_the_period_is_the_patients(clinic, check_ins, make_program):
    earlier = enroll(clinic, check_ins, date(2024, 12, 1))  # before the period: not its anchor
    enroll(clinic, make_program(slug="later", kind="after_diagnosis"), A, patient=earlier.patient)
    milestone(earlier, K.CONSULTATION_ATTENDED, 0)  # 1 Dec 2024: outside A's window
    milestone(earlier, K.DXA_DONE, 36)  # 6 Jan 2025: A's anchor day

    audit = fls_audit(clinic=clinic, date_from=A, date_to=PERIOD_END, as_of=AS_OF)

    assert audit.cohort == 1
    assert figures(audit)["consultation_within_target"][:2] == (0, 1)
    assert figures(audit)["dxa_within_12_weeks"][:2] == (1, 1)


def test_a_death_before_the_52_week_window_leaves_the_patient_in_it(clinic, check_ins):
    # The definition leaves out deaths dated inside the measure's window, which for 52 weeks is
    # days 308 to 420: one on day 200 does not.
    died_early = enroll(clinic, check_ins, A)
    milestone(died_early, K.TREATMENT_STARTED, 30)
    milestone(died_early, K.DIED, 200)
    died_inside = enroll(clinic, check_ins, A)
    milestone(died_inside, K.TREATMENT_STARTED, 30)
    milestone(died_inside, K.DIED, 308)

    audit = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=AS_OF)

    assert figures(audit)["on_treatment_at_52_weeks"] == (0, 1, 0.0, "red", 0, 1)


def test_medicine_started_before_the_anchor_still_admits_to_the_52_week_measure(clinic, check_ins):
    # "Only those with treatment_started recorded", whatever its date.
    enrollment = enroll(clinic, check_ins, A)
    milestone(enrollment, K.TREATMENT_STARTED, -200)
    milestone(enrollment, K.ON_TREATMENT_CONFIRMED, 364)

    audit = fls_audit(clinic=clinic, date_from=A, date_to=A, as_of=AS_OF)

    assert figures(audit)["treatment_started_within_16_weeks"][:2] == (0, 1)
    assert figures(audit)["on_treatment_at_52_weeks"][:2] == (1, 1)


def test_the_as_of_date_is_today_in_the_clinics_zone_by_default(clinic, check_ins, clock):
    enrollment = enroll(clinic, check_ins, A)
    milestone(enrollment, K.CONSULTATION_ATTENDED, 14)  # the clinic's target: 14 days, the last on 20 January
    # 21 Jan 2025 03:00 UTC is still 20 January in New York: the window's last day, so still open.
    clock.move_to(utc(2025, 1, 21, 3, 0))
    audit = fls_audit(clinic=clinic, date_from=A, date_to=A)
    assert audit.as_of == date(2025, 1, 20)
    assert figures(audit)["consultation_within_target"][:2] == (0, 0)
    clock.move_to(utc(2025, 1, 21, 5, 0))  # 00:00 on 21 January in New York
    audit = fls_audit(clinic=clinic, date_from=A, date_to=A)
    assert audit.as_of == date(2025, 1, 21)
    assert figures(audit)["consultation_within_target"][:2] == (1, 1)


def test_problems_name_the_argument(clinic):
    now = utc(2026, 6, 2, 3, 0)  # 1 June in New York
    assert fls_audit_problems(clinic=clinic, date_from=A, date_to=A, as_of=date(2026, 6, 1), now=now) == {}
    problems = fls_audit_problems(
        clinic=clinic, date_from=A, date_to=A - timedelta(days=1), as_of=date(2026, 6, 2), now=now
    )
    assert set(problems) == {"date_to", "as_of"}
    assert "2025-01-05 is before the start of the period, 2025-01-06" in problems["date_to"]
    assert "2026-06-02 is after today (2026-06-01" in problems["as_of"]


def test_thirty_patients_take_three_queries(clinic, check_ins, django_assert_max_num_queries):
    for _ in range(30):
        enrollment = enroll(clinic, check_ins, A)
        for kind, day in (
            (K.CONSULTATION_ATTENDED, 5),
            (K.DXA_DONE, 40),
            (K.TREATMENT_STARTED, 60),
            (K.ON_TREATMENT_CONFIRMED, 360),
            (K.FALL, 12),
        ):
            milestone(enrollment, kind, day)
        answer(enrollment, "medicine", utc(2025, 2, 10, 15))

    with django_assert_max_num_queries(3):
        audit = fls_audit(clinic=clinic, date_from=A, date_to=PERIOD_END, as_of=AS_OF)

    assert [(kpi.numerator, kpi.denominator) for kpi in audit.kpis] == [(30, 30)] * 5
