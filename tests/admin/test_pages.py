"""The admin's pages as staff use them: enrolling, adding patients, the lists."""

import pytest
from django.urls import reverse

from reminders.models import Enrollment, Message, Patient
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.fixture
def staff(admin_client):
    return admin_client


def enroll_form(patient, program, **overrides):
    return {"patient": patient.pk, "program": program.pk, "anchor_event": "pvp",
            "anchor_date": "2026-06-02", **overrides}


def test_enrolling_in_the_admin_plans_the_messages(staff, patient, program, admin_user):
    response = staff.post(reverse("admin:reminders_enrollment_add"), enroll_form(patient, program))
    assert response.status_code == 302, response.content
    enrollment = Enrollment.objects.get()
    assert enrollment.enrolled_by == admin_user
    assert enrollment.messages.count() == 3

    page = staff.get(reverse("admin:reminders_enrollment_change", args=[enrollment.pk]))
    assert page.status_code == 200
    # The timeline shows send times in the patient's zone.
    assert "2026-06-02 10:00 EDT" in page.content.decode()


@pytest.mark.parametrize(
    ("anchor", "message"),
    [("2026-06-05", "is in the future"), ("2026-01-02", "at most 30 days back")],
)
def test_an_anchor_date_out_of_range_is_explained_on_the_field(staff, patient, program, anchor, message):
    response = staff.post(reverse("admin:reminders_enrollment_add"),
                          enroll_form(patient, program, anchor_date=anchor))
    assert response.status_code == 400  # the form again, with the reason on the field
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors["anchor_date"])
    assert not Enrollment.objects.exists()
    assert not Message.objects.exists()


def test_a_wrong_anchor_event_is_explained(staff, patient, program):
    response = staff.post(reverse("admin:reminders_enrollment_add"),
                          enroll_form(patient, program, anchor_event="diagnosis"))
    assert "does not start the program" in " ".join(response.context["adminform"].form.errors["anchor_event"])


def test_an_invalid_phone_number_is_refused_on_its_field(staff, clinic):
    response = staff.post(reverse("admin:reminders_patient_add"), {
        "clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "12345",
        "email": "", "time_zone": "", "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0",
    })
    assert response.status_code == 400
    assert "mobile" in response.context["adminform"].form.errors
    assert not Patient.objects.exists()


def test_an_unknown_time_zone_is_refused(staff, clinic):
    response = staff.post(reverse("admin:reminders_patient_add"), {
        "clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "+12025550111",
        "email": "", "time_zone": "Mars/Olympus", "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0",
    })
    assert "not a known time zone" in " ".join(response.context["adminform"].form.errors["time_zone"])


def test_phone_numbers_are_stored_in_e164(staff, clinic):
    response = staff.post(reverse("admin:reminders_patient_add"), {
        "clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "(202) 555-0111",
        "email": "", "time_zone": "", "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    assert Patient.objects.get().mobile.as_e164 == "+12025550111"


ALL_STEPS = ["day0", "day1", "day7"]


@pytest.mark.parametrize(("query", "shown"), [
    ("", ALL_STEPS), ("?status__exact=pending", ALL_STEPS), ("?channel__exact=sms", ALL_STEPS),
    ("?due=overdue", ["day0"]),  # due at 14:00 UTC, now 18:00
    ("?due=next24h", ["day1"]),  # due tomorrow at 13:30 UTC
    ("?due_at__year=2026", ALL_STEPS),
])
def test_the_message_list_filters(staff, enrollment, clinic, query, shown):
    response = staff.get(reverse("admin:reminders_message_changelist") + query)
    assert response.status_code == 200
    assert sorted(m.step.key for m in response.context["cl"].result_list) == shown
    by_clinic = staff.get(reverse("admin:reminders_message_changelist")
                          + f"?enrollment__patient__clinic__id__exact={clinic.pk}")
    assert by_clinic.status_code == 200
    assert "Margaret Okafor" in by_clinic.content.decode()


@pytest.mark.parametrize("model", ["clinic", "patient", "program", "enrollment", "message"])
def test_every_list_and_page_opens(staff, patient, program, enrollment, model):
    objects = {"clinic": patient.clinic, "patient": patient, "program": program,
               "enrollment": enrollment, "message": enrollment.messages.first()}
    assert staff.get(reverse(f"admin:reminders_{model}_changelist")).status_code == 200
    assert staff.get(reverse(f"admin:reminders_{model}_change", args=[objects[model].pk])).status_code == 200


def test_consent_given_in_the_admin_is_written_to_the_ledger(staff, clinic, admin_user):
    from reminders.models import ConsentEvent

    form = {
        "clinic": clinic.pk, "first_name": "Ann", "last_name": "Lee", "mobile": "+12025550111",
        "email": "ann@example.com", "time_zone": "", "language": "en", "sms_consent": "on",
        "enrollments-TOTAL_FORMS": "0", "enrollments-INITIAL_FORMS": "0",
    }
    assert staff.post(reverse("admin:reminders_patient_add"), form).status_code == 302
    patient = Patient.objects.get()
    assert list(ConsentEvent.objects.values_list("channel", "given", "actor", "recorded_by")) == [
        ("sms", True, "coordinator", admin_user.pk)]

    form["email_consent"] = "on"
    del form["sms_consent"]
    assert staff.post(reverse("admin:reminders_patient_change", args=[patient.pk]), form).status_code == 302
    events = set(ConsentEvent.objects.values_list("channel", "given"))
    assert events == {("sms", True), ("sms", False), ("email", True)}


def test_the_clinic_page_has_the_address_and_the_sender(staff, clinic, client, make_coordinator):
    page = staff.get(reverse("admin:reminders_clinic_change", args=[clinic.pk])).content.decode()
    for field in ("address", "sms_sender", "sms_sender_kind", "sms_segments_per_second"):
        assert f'name="{field}"' in page

    # A coordinator reads the clinic's settings (an administrator changes them).
    client.force_login(make_coordinator(username="coord-clinic", clinic=clinic))
    page = client.get(reverse("admin:reminders_clinic_change", args=[clinic.pk])).content.decode()
    assert "Address" in page and "Kind of sender" in page
    assert 'name="sms_sender"' not in page
