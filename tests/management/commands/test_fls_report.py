"""`manage.py fls_report`: the fracture liaison audit as a table, JSON or CSV, for scripts and support."""

import json
import re
from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reminders.models import MilestoneKind
from tests.factories import EnrollmentFactory, MilestoneFactory
from tests.moments import NOW, UTC

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # today: 2 June 2026 in New York

K = MilestoneKind
A = date(2025, 1, 6)


def patient_with(clinic, program, milestones: dict[str, int]):
    """A patient anchored on A, with each milestone ``days`` after it."""
    enrollment = EnrollmentFactory(
        patient__clinic=clinic, program=program, anchor_date=A, enrolled_at=datetime.combine(A, time(16), tzinfo=UTC)
    )
    for kind, days in milestones.items():
        MilestoneFactory(patient=enrollment.patient, kind=kind, date=A + timedelta(days=days))


@pytest.fixture
def audited(clinic, clinic_b, program):
    # Target 14 days (the clinic's default). Q1: everything in time, the consultation on its last day.
    patient_with(
        clinic,
        program,
        {K.CONSULTATION_ATTENDED: 14, K.DXA_DONE: 84, K.TREATMENT_STARTED: 100, K.ON_TREATMENT_CONFIRMED: 400},
    )
    # Q2: the consultation a day late; died on day 50: inside every window but the consultation's.
    patient_with(clinic, program, {K.CONSULTATION_ATTENDED: 15, K.DIED: 50})
    # Q3: medicine on day 10, monitoring on day 112, the scan a day late; never confirmed on medicine.
    patient_with(clinic, program, {K.TREATMENT_STARTED: 10, K.MONITORING_CONTACT: 112, K.DXA_DONE: 85})
    # Another clinic's patient, all in time: not counted.
    patient_with(clinic_b, program, {K.CONSULTATION_ATTENDED: 1, K.DXA_DONE: 1, K.TREATMENT_STARTED: 1})
    return clinic


def run(*args) -> str:
    out = StringIO()
    call_command("fls_report", *args, stdout=out)
    return out.getvalue()


def test_json_has_the_kpis_in_order_with_their_figures(audited):
    result = json.loads(
        run("--clinic", "Riverside Spine Clinic", "--from", "2025-01-01", "--to", "2025-12-31", "--json")
    )
    assert result == {
        "clinic": "Riverside Spine Clinic",
        "clinic_id": audited.pk,
        "from": "2025-01-01",
        "to": "2025-12-31",
        "as_of": "2026-06-02",
        "cohort": 3,
        "kpis": [
            # Q1 (day 14) of Q1, Q2, Q3 (Q2's death on day 50 is after the 14-day window): 100 / 3 = 33.3.
            {"key": "consultation_within_target", "numerator": 1, "denominator": 3, "percent": 33.3, "grade": "red"},
            # Q2 left out (died on day 50); Q1 (day 84) of Q1, Q3: 1 / 2 = 50.0.
            {"key": "dxa_within_12_weeks", "numerator": 1, "denominator": 2, "percent": 50.0, "grade": "amber"},
            # Q1 (day 100) and Q3 (day 10) of Q1, Q3: 2 / 2.
            {
                "key": "treatment_started_within_16_weeks",
                "numerator": 2,
                "denominator": 2,
                "percent": 100.0,
                "grade": "green",
            },
            # Q3 (day 112) of Q1, Q3.
            {"key": "monitoring_within_16_weeks", "numerator": 1, "denominator": 2, "percent": 50.0, "grade": "amber"},
            # Started: Q1 and Q3; windows closed on 2 Mar 2026; Q1 confirmed on day 400.
            {"key": "on_treatment_at_52_weeks", "numerator": 1, "denominator": 2, "percent": 50.0, "grade": "amber"},
        ],
    }


def test_json_says_null_while_no_window_has_closed(audited):
    # As of 1 Feb 2025 only the consultation windows (to 20 January) have closed.
    result = json.loads(
        run(
            "--clinic", str(audited.pk), "--from", "2025-01-01", "--to", "2025-12-31", "--as-of", "2025-02-01", "--json"
        )
    )
    assert result["as_of"] == "2025-02-01"
    assert result["kpis"][0] == {
        "key": "consultation_within_target",
        "numerator": 1,
        "denominator": 3,
        "percent": 33.3,
        "grade": "red",
    }
    assert [(k["key"], k["denominator"], k["percent"], k["grade"]) for k in result["kpis"][1:]] == [
        ("dxa_within_12_weeks", 0, None, None),
        ("treatment_started_within_16_weeks", 0, None, None),
        ("monitoring_within_16_weeks", 0, None, None),
        ("on_treatment_at_52_weeks", 0, None, None),
    ]


def test_csv_gives_the_same_figures(audited):
    assert run("--clinic", "riverside spine clinic", "--from", "2025-01-01", "--to", "2025-12-31", "--csv") == (
        "key,label,numerator,denominator,percent,grade\n"
        "consultation_within_target,Specialist consultation attended within the clinic's target (14 days),"
        "1,3,33.3,red\n"
        "dxa_within_12_weeks,Bone density scan (DXA) done within 12 weeks,1,2,50.0,amber\n"
        "treatment_started_within_16_weeks,Bone medicine started within 16 weeks,2,2,100.0,green\n"
        "monitoring_within_16_weeks,Monitoring contact within 16 weeks (or a medicine check-in answered),"
        "1,2,50.0,amber\n"
        "on_treatment_at_52_weeks,Still on bone medicine at 52 weeks (of those who started it),1,2,50.0,amber\n"
    )


def test_the_default_is_a_readable_table(audited):
    table = run("--clinic", "Riverside Spine Clinic", "--from", "2025-01-01", "--to", "2025-12-31")
    lines = table.splitlines()
    assert lines[0] == (
        f"Fracture liaison audit: Riverside Spine Clinic (#{audited.pk}), anchor dates 2025-01-01 "
        "to 2025-12-31, as of 2026-06-02"
    )
    assert lines[1] == "Cohort: 3 patients (the earliest enrollment of each)"
    assert re.fullmatch(r"Measure +Numerator +Denominator +Percent +Grade +Window open +Left out", lines[3])
    # numerator, denominator, percent, grade, window open, left out (Q2, died on day 50)
    assert re.fullmatch(r"Bone medicine started within 16 weeks +2 +2 +100\.0 % +green +0 +1", lines[6])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clinic", "Nowhere", "--from", "2025-01-01", "--to", "2025-12-31"], "--clinic: no clinic named 'Nowhere'"),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "2025-13-01", "--to", "2025-12-31"],
            "--from must be a date as YYYY-MM-DD, not '2025-13-01'",
        ),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "20250101", "--to", "2025-12-31"],
            "--from must be a date as YYYY-MM-DD, not '20250101'",
        ),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "2025-01-01", "--to", "31/12/2025"],
            "--to must be a date as YYYY-MM-DD",
        ),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "2025-02-01", "--to", "2025-01-31"],
            "--to: 2025-01-31 is before the start of the period, 2025-02-01",
        ),
        (
            [
                "--clinic",
                "Riverside Spine Clinic",
                "--from",
                "2025-01-01",
                "--to",
                "2025-12-31",
                "--as-of",
                "2026-06-03",
            ],
            "--as-of: 2026-06-03 is after today (2026-06-02",
        ),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "2025-01-01", "--to", "2025-12-31", "--json", "--csv"],
            "not allowed with argument --json",
        ),
        (["--from", "2025-01-01", "--to", "2025-12-31"], "the following arguments are required: --clinic"),
        (
            ["--clinic", "Riverside Spine Clinic", "--from", "2025-01-01", "--to", "2025-12-31", "--as-of", ""],
            "--as-of must be a date as YYYY-MM-DD, not ''",
        ),
    ],
)
def test_bad_arguments_are_refused_by_name(clinic, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*args)
