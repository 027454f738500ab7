"""Issue 13, item 5: an escalation shows the phone and language, and keeps what was done."""

import pytest
from django.urls import reverse

from reminders.models import EscalationNote
from reminders.services.escalations import escalation_note_add
from reminders.services.privacy import patient_forget
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_the_escalation_page_shows_the_phone_as_a_link_and_the_language(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_escalation_change", args=[side_a.escalation.pk]))
    html = page.content.decode()
    assert '<a href="tel:+12025550101" class="patient-phone">(202) 555-0101</a>' in html
    assert "English" in html
    assert 'name="note"' in html and 'value="Save note"' in html


def test_the_escalation_list_shows_the_phone_and_language(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:reminders_escalation_changelist"))
    html = page.content.decode()
    assert 'href="tel:+12025550101"' in html
    assert '<span class="followup-note">English</span>' in html


def test_a_note_is_kept_with_who_and_when(coord_a_client, coord_a, side_a):
    url = reverse("admin:reminders_escalation_note", args=[side_a.escalation.pk])
    response = coord_a_client.post(url, {"note": "Called her: pain better, visit booked Monday."})
    assert response.status_code == 302
    note = EscalationNote.objects.get()
    assert (note.escalation, note.written_by, note.text) == (
        side_a.escalation, coord_a, "Called her: pain better, visit booked Monday.")
    page = coord_a_client.get(reverse("admin:reminders_escalation_change", args=[side_a.escalation.pk]))
    html = page.content.decode()
    assert "Called her: pain better, visit booked Monday." in html
    assert "2026-06-02 14:00 EDT by coord-a" in html  # the clinic's zone, with its abbreviation


def test_acknowledging_with_a_note_keeps_both(coord_a_client, side_a):
    url = reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk])
    coord_a_client.post(url, {"note": "Left a voicemail."})
    side_a.escalation.refresh_from_db()
    assert side_a.escalation.acknowledged_at is not None
    assert list(side_a.escalation.notes.values_list("text", flat=True)) == ["Left a voicemail."]


def test_a_note_with_hidden_characters_is_refused_and_nothing_is_acknowledged(coord_a_client, side_a):
    url = reverse("admin:reminders_escalation_acknowledge", args=[side_a.escalation.pk])
    response = coord_a_client.post(url, {"note": "called\u202e back"}, follow=True)
    assert "Note not saved" in response.content.decode()
    side_a.escalation.refresh_from_db()
    assert side_a.escalation.acknowledged_at is None and not EscalationNote.objects.exists()


def test_another_clinics_escalation_takes_no_note(coord_a_client, side_b):
    url = reverse("admin:reminders_escalation_note", args=[side_b.escalation.pk])
    assert coord_a_client.post(url, {"note": "x"}).status_code == 404
    assert not EscalationNote.objects.exists()


def test_forgetting_a_patient_removes_the_notes_text(side_a, coord_a, admin_user):
    escalation_note_add(escalation=side_a.escalation, text="Spoke to Margaret at home.", written_by=coord_a)
    patient_forget(patient=side_a.patient, forgotten_by=admin_user)
    assert "Margaret" not in EscalationNote.objects.get().text
