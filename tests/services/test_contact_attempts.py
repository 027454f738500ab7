"""A call attempt is noted with who made it; an empty or hidden-character note is refused on its field."""

import pytest
from django.core.exceptions import ValidationError

from reminders.models import ContactAttempt
from reminders.services.contact_attempts import contact_attempt_record
from reminders.services.privacy import patient_forget
from tests.factories import UserFactory
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


def test_a_call_attempt_is_noted_with_who_and_when(patient):
    coordinator = UserFactory(username="coord-a")
    attempt = contact_attempt_record(patient=patient, note="  no answer,\n left a voicemail ", made_by=coordinator)
    assert (attempt.note, attempt.made_by, attempt.created_at) == ("no answer, left a voicemail", coordinator, NOW)


@pytest.mark.parametrize("note", ["", "   ", "x" * 301, "call\u202eback"])
def test_a_bad_note_is_refused_on_its_field_and_nothing_is_noted(patient, note):
    with pytest.raises(ValidationError) as error:
        contact_attempt_record(patient=patient, note=note)
    assert list(error.value.message_dict) == ["note"]
    assert not ContactAttempt.objects.exists()


def test_a_forgotten_patient_gets_no_note(patient):
    patient_forget(patient=patient, forgotten_by=UserFactory())
    with pytest.raises(ValidationError):
        contact_attempt_record(patient=patient, note="no answer")
    assert not ContactAttempt.objects.exists()
