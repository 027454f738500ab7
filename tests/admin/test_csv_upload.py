import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reminders.models import Enrollment, Patient
from reminders.services.csv_import import ALL_COLUMN_NAMES, COLUMN_NAMES
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

URL = reverse("admin:reminders_enrollment_import_csv")
HEADER = ",".join(COLUMN_NAMES)


def row(clinic, first="Ann", mobile="+12025550111"):
    return f"{clinic},{first},Lee,{mobile},,yes,no,,,,test-procedure,pvp,2026-06-02"


def upload(client, text: str, name="patients.csv"):
    return client.post(URL, {"file": SimpleUploadedFile(name, text.encode("utf-8"), "text/csv")})


def test_the_upload_page_links_the_template_and_lists_the_columns(coord_a_client):
    page = coord_a_client.get(URL)
    assert page.status_code == 200
    assert [name for name, _ in page.context["columns"]] == ALL_COLUMN_NAMES
    template = coord_a_client.get(reverse("admin:reminders_enrollment_csv_template"))
    assert template["Content-Disposition"] == 'attachment; filename="enrollment-template.csv"'
    assert template.content.decode().strip() == ",".join(ALL_COLUMN_NAMES)


def test_a_good_upload_enrolls_everyone(coord_a_client, clinic, program, coord_a):
    response = upload(coord_a_client, "\n".join([HEADER, row(clinic.name), row(clinic.name, "Bo", "+12025550112")]))
    assert response.status_code == 302
    assert Enrollment.objects.filter(enrolled_by=coord_a).count() == 2


def test_a_bad_row_is_shown_with_line_and_column_and_nobody_is_enrolled(coord_a_client, clinic, program):
    response = upload(coord_a_client, "\n".join([HEADER, row(clinic.name), row(clinic.name, "Bo", "555")]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 problem found; nobody was enrolled." in page
    assert [(e.line, e.column) for e in response.context["result"].errors] == [(3, "mobile")]
    assert not Patient.objects.exists()


def test_another_clinic_in_the_file_is_refused(coord_a_client, clinic_b, program):
    response = upload(coord_a_client, HEADER + "\n" + row(clinic_b.name))
    assert [(e.line, e.column) for e in response.context["result"].errors] == [(2, "clinic")]
    assert not Patient.objects.exists()


def test_a_file_over_the_limit_is_refused_before_reading(coord_a_client, clinic, program, settings):
    settings.CSV_IMPORT_MAX_BYTES = 50
    response = upload(coord_a_client, HEADER + "\n" + row(clinic.name))
    assert "at most 0 KB per file" in " ".join(response.context["form"].errors["file"])
