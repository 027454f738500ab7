"""Issue 14, item 7: the audit page in the admin, a table and a chart per clinic and period, and its CSV."""

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from django.urls import reverse

from reminders.admin.fls_report import DARK_BACKGROUND, GRADE_COLOURS, GRADE_COLOURS_DARK, LIGHT_BACKGROUND
from reminders.models import MilestoneKind
from tests.admin.test_dashboard_chart import contrast
from tests.factories import EnrollmentFactory, MilestoneFactory, UserFactory
from tests.moments import NOW, UTC

# The admin suites live on the afternoon of the reference day: today is 2 June 2026 in New York.
pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:followup_fls_audit")
K = MilestoneKind
A = date(2025, 1, 6)
PERIOD = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def patient_with(clinic, program, milestones: dict[str, int]):
    enrollment = EnrollmentFactory(
        patient__clinic=clinic, program=program, anchor_date=A, enrolled_at=datetime.combine(A, time(16), tzinfo=UTC)
    )
    for kind, days in milestones.items():
        MilestoneFactory(patient=enrollment.patient, kind=kind, date=A + timedelta(days=days))


@pytest.fixture
def audited(clinic, clinic_b, program):
    # Target 14 days. R1: consultation on the anchor day, scan on day 84, medicine on day 30, still on it on day 308.
    patient_with(
        clinic,
        program,
        {K.CONSULTATION_ATTENDED: 0, K.DXA_DONE: 84, K.TREATMENT_STARTED: 30, K.ON_TREATMENT_CONFIRMED: 308},
    )
    # R2: died on day 20: after the consultation window (stays there), inside the others (left out).
    patient_with(clinic, program, {K.DIED: 20})
    # Hillcrest's patients: three, nothing recorded.
    for _ in range(3):
        patient_with(clinic_b, program, {})
    return clinic


# Consultation: R1 of R1, R2: 1 / 2 = 50.0 amber. Scan, medicine: R1 of R1 (R2 left out): 100.0 green.
# Monitoring: none of R1: 0.0 red. 52 weeks: R1 started, confirmed on day 308 (the first day in): 100.0 green.
EXPECTED_CSV = [
    ["key", "label", "numerator", "denominator", "percent", "grade"],
    [
        "consultation_within_target",
        "Specialist consultation attended within the clinic's target (14 days)",
        "1",
        "2",
        "50.0",
        "amber",
    ],
    ["dxa_within_12_weeks", "Bone density scan (DXA) done within 12 weeks", "1", "1", "100.0", "green"],
    ["treatment_started_within_16_weeks", "Bone medicine started within 16 weeks", "1", "1", "100.0", "green"],
    [
        "monitoring_within_16_weeks",
        "Monitoring contact within 16 weeks (or a medicine check-in answered)",
        "0",
        "1",
        "0.0",
        "red",
    ],
    [
        "on_treatment_at_52_weeks",
        "Still on bone medicine at 52 weeks (of those who started it)",
        "1",
        "1",
        "100.0",
        "green",
    ],
]


def test_a_coordinator_sees_their_clinics_audit_as_a_table_and_a_chart(coord_a_client, audited):
    page = coord_a_client.get(URL, PERIOD)
    html = page.content.decode()
    assert page.status_code == 200
    assert list(page.context["form"].fields["clinic"].queryset) == [audited]
    assert page.context["audit"].cohort == 2
    words = " ".join(html.split())
    assert (
        "Riverside Spine Clinic: 2 patients with an anchor date from 2025-01-01 to 2025-12-31 (the earliest "
        "enrollment of each), as of 2026-06-02."
    ) in words
    # The table: the measure in words, met / counted, percent, and the grade written next to its colour.
    row = html[html.index('<tr id="kpi-monitoring_within_16_weeks">') :]
    row = row[: row.index("</tr>")]
    assert "Monitoring contact within 16 weeks (or a medicine check-in answered)" in row
    assert "<td>0 / 1</td>" in row and "<td>0.0 %</td>" in row
    assert '<span class="fls-swatch grade-red" aria-hidden="true"></span>Red' in row
    consultation = html[html.index('<tr id="kpi-consultation_within_target">') :]
    assert "<td>1 / 2</td>" in consultation[: consultation.index("</tr>")]
    assert 'grade-amber" aria-hidden="true"></span>Amber' in consultation[: consultation.index("</tr>")]
    # The chart: an image with a title, described by the table's caption, each bar's figure and grade in words.
    assert (
        '<svg id="fls-chart" role="img" aria-labelledby="fls-chart-title" aria-describedby="fls-table-caption"' in html
    )
    assert '<caption id="fls-table-caption">' in html
    assert [row.words for row in page.context["rows"]] == [
        "50.0 % amber (1 of 2)",
        "100.0 % green (1 of 1)",
        "100.0 % green (1 of 1)",
        "0.0 % red (0 of 1)",
        "100.0 % green (1 of 1)",
    ]
    assert html.count('<rect class="grade-') == 5
    assert ">50.0 % amber (1 of 2)</text>" in html
    assert "Hillcrest" not in html


def test_the_csv_download_gives_the_same_figures(coord_a_client, audited):
    page = coord_a_client.get(URL, PERIOD)
    link = page.context["csv_query"]
    assert f'href="?{link.replace("&", "&amp;")}"' in page.content.decode() and "Download CSV" in page.content.decode()

    download = coord_a_client.get(f"{URL}?{link}")

    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="fls-audit-{audited.pk}-20250101-20251231.csv"'
    text = download.content.decode("utf-8")
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == EXPECTED_CSV


def test_a_coordinator_cannot_choose_another_clinic(coord_a_client, audited, clinic_b):
    page = coord_a_client.get(URL, {**PERIOD, "clinic": clinic_b.pk})
    assert page.status_code == 400
    assert page.context["audit"] is None
    assert "Select a valid choice" in str(page.context["form"].errors["clinic"])
    assert "Hillcrest" not in page.content.decode()
    download = coord_a_client.get(URL, {**PERIOD, "clinic": clinic_b.pk, "download": "csv"})
    assert download.status_code == 400 and download["Content-Type"].startswith("text/html")


def test_a_superuser_chooses_any_clinic(admin_client, audited, clinic_b):
    page = admin_client.get(URL, {**PERIOD, "clinic": clinic_b.pk})
    assert page.status_code == 200
    assert page.context["audit"].clinic == clinic_b and page.context["audit"].cohort == 3


def test_by_default_the_last_calendar_year_as_of_today(coord_a_client, audited):
    page = coord_a_client.get(URL)
    audit = page.context["audit"]
    assert (audit.clinic, audit.date_from, audit.date_to, audit.as_of) == (
        audited,
        date(2025, 1, 1),
        date(2025, 12, 31),
        date(2026, 6, 2),
    )


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        (
            {"date_from": "2025-02-01", "date_to": "2025-01-31"},
            "date_to",
            "2025-01-31 is before the start of the period, 2025-02-01.",
        ),
        ({"date_from": "2025-13-01", "date_to": "2025-12-31"}, "date_from", "Enter a valid date."),
        ({**PERIOD, "as_of": "2026-06-03"}, "as_of", "2026-06-03 is after today (2026-06-02 in the clinic's zone)"),
    ],
)
def test_a_period_that_cannot_be_audited_is_refused_on_its_field(coord_a_client, audited, query, field, reason):
    page = coord_a_client.get(URL, query)
    assert page.status_code == 400
    assert page.context["audit"] is None
    assert reason in " ".join(page.context["form"].errors[field])
    assert 'id="fls-chart"' not in page.content.decode()


def test_the_index_links_to_the_audit(coord_a_client):
    assert f'<a href="{URL}">Fracture liaison audit</a>' in coord_a_client.get(reverse("admin:index")).content.decode()


def test_staff_of_no_clinic_are_told_so(client, coordinator_group):
    user = UserFactory()
    user.groups.add(coordinator_group)
    client.force_login(user)
    page = client.get(URL)
    assert page.status_code == 200
    assert "No clinic: you are not a coordinator of any clinic." in page.content.decode()


def test_the_page_needs_a_login_and_the_permission(client, audited):
    assert client.get(URL).status_code == 302
    client.force_login(UserFactory())  # staff, without the Coordinator group
    assert client.get(URL).status_code == 403


@pytest.mark.parametrize(
    ("palette", "background"), [(GRADE_COLOURS, LIGHT_BACKGROUND), (GRADE_COLOURS_DARK, DARK_BACKGROUND)]
)
def test_every_grade_colour_reads_against_its_themes_background(palette, background):
    assert set(palette) == {"red", "amber", "green"}
    assert {
        grade: round(contrast(colour, background), 2)
        for grade, colour in palette.items()
        if contrast(colour, background) < 4.5
    } == {}
