"""
The two programs follow the patient's road: what stops each step (``until``), what a check-in
answer records (``records``), and the reminder the evening before each booked appointment,
as the program files say and as a patient reads it.
"""

import re
from datetime import date, time, timedelta

import pytest

from reminders.models import APPOINTMENT_KINDS, Message, MessageStatus, MilestoneKind, Program
from reminders.rendering import render_message
from reminders.services.milestones import milestone_record
from reminders.services.programs import programs_load
from reminders.sms_encoding import GSM7, sms_cost
from tests.factories import EnrollmentFactory
from tests.moments import DAY, ENROLLED_AT, NOW

from .rules import DIAGNOSIS_WORDS

pytestmark = pytest.mark.time_machine(NOW, tick=False)  # 2 June 2026, 14:00 in New York

BOOKED, ATTENDED = MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.CONSULTATION_ATTENDED
DXA_BOOKED, DXA_DONE = MilestoneKind.DXA_BOOKED, MilestoneKind.DXA_DONE
STARTED, DECLINED = MilestoneKind.TREATMENT_STARTED, MilestoneKind.TREATMENT_DECLINED
CONFIRMED = MilestoneKind.ON_TREATMENT_CONFIRMED

# Every step that listens to the road or records on it: (until, records). Any other step does neither.
ROAD = {
    "after-diagnosis": {
        "day01-book-specialist": ([BOOKED, ATTENDED], {}),
        "day07-specialist-check": ([BOOKED, ATTENDED], {"1": ATTENDED}),
        "day60-bone-scan": ([DXA_BOOKED, DXA_DONE], {"1": DXA_DONE}),
        "day90-review-medicine": ([STARTED, DECLINED], {"1": STARTED}),
        "day180-keep-going": ([DECLINED], {}),
        "day330-medicine-check": ([DECLINED], {"1": CONFIRMED}),
    },
    "after-procedure": {
        "day07-followup-visit": ([BOOKED, ATTENDED], {}),
        "day14-bone-health": ([STARTED], {}),
        # A booking alone leaves it: its email (the scan, calcium, a safer home) helps before the scan.
        "day30-bone-scan": ([DXA_DONE], {"1": DXA_DONE}),
        "day90-bone-medicine": ([STARTED, DECLINED], {"1": STARTED}),
        "day180-keep-going": ([DECLINED], {}),
        "day330-medicine-check": ([DECLINED], {"1": CONFIRMED}),
    },
}
REMINDERS = {"consultation-evening-before": BOOKED, "dxa-evening-before": DXA_BOOKED}


@pytest.fixture
def loaded(db) -> dict[str, Program]:
    programs_load()
    return {p.slug: p for p in Program.objects.all()}


@pytest.mark.parametrize("slug", sorted(ROAD))
def test_loading_the_file_gives_each_step_the_milestones_it_stops_at_and_records(loaded, slug):
    steps = {step.key: step for step in loaded[slug].steps.all()}
    road = {key: (step.until, step.answer_milestones) for key, step in steps.items()
            if step.until or step.answer_milestones}
    assert road == ROAD[slug]
    for key, kind in REMINDERS.items():
        step = steps[key]
        assert (step.relative_to, step.offset_days, step.send_time) == (kind, -1, time(18, 0))
        assert step.max_lateness == timedelta(hours=2)


def test_no_answer_records_a_booking_and_every_answer_that_records_is_the_good_one(loaded):
    """A reply gives no appointment date, so it never records a booking; and the answer that
    records the fact is never the one that escalates."""
    from reminders.triage import rule_matches

    for program in loaded.values():
        for step in program.steps.exclude(answer_milestones={}):
            assert not set(step.answer_milestones.values()) & set(APPOINTMENT_KINDS), step.key
            for answer in step.answer_milestones:
                assert not rule_matches(step.escalate_when, answer), f"{program.slug}/{step.key}"


def test_a_booked_consultation_cancels_the_booking_texts_and_plans_its_reminder(loaded, make_patient):
    patient = make_patient(language="es")
    enrollment = EnrollmentFactory(patient=patient, program=loaded["after-diagnosis"], enrolled_at=ENROLLED_AT)
    milestone_record(patient=patient, kind=BOOKED, on=DAY + timedelta(days=9), at=time(9, 15))

    by_step = {m.step.key: m for m in enrollment.messages.select_related("step")}
    assert by_step["day01-book-specialist"].status == MessageStatus.CANCELLED
    assert by_step["day07-specialist-check"].status == MessageStatus.CANCELLED
    assert by_step["day01-book-specialist"].reason.startswith("consultation booked for 11 Jun 09:15")
    assert by_step["day60-bone-scan"].status == MessageStatus.PENDING
    reminder = by_step["consultation-evening-before"]
    assert reminder.status == MessageStatus.PENDING
    local = reminder.scheduled_at.astimezone(patient.zone)
    assert (local.date(), local.time()) == (date(2026, 6, 10), time(18, 0))
    assert "el 11 de junio a las 9:15" in render_message(message=reminder).text


def _reminder(*, loaded, make_patient, slug, kind, language, discreet, at, address) -> str:
    """The evening-before reminder of a ``kind`` appointment on 30 September, as the patient reads it
    (not their first text)."""
    patient = make_patient(language=language, discreet=discreet)
    patient.clinic.address = address
    patient.clinic.save()
    enrollment = EnrollmentFactory(patient=patient, program=loaded[slug], enrolled_at=ENROLLED_AT)
    enrollment.messages.filter(step__key="day00-welcome").update(status=MessageStatus.SENT, sent_at=NOW)
    milestone_record(patient=patient, kind=kind, on=date(2026, 9, 30), at=at)
    message = Message.objects.get(enrollment=enrollment, milestone__kind=kind)
    return render_message(message=message).text


@pytest.mark.parametrize("slug", sorted(ROAD))
@pytest.mark.parametrize("kind", [BOOKED, DXA_BOOKED])
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("discreet", [False, True])
def test_the_evening_before_reminder_says_when_where_what_to_bring_and_how_to_change_it(
    loaded, make_patient, slug, kind, language, discreet
):
    address = "12 Harbor Road, Building B"
    words = {
        "en": {"date": "30 September", "time": " at 2:45 PM", "where": f", at {address}.",
               "bring": "medicine list", "change": "To change or cancel it, call (202) 555-0143."},
        "es": {"date": "30 de septiembre", "time": " a las 14:45", "where": f", en {address}.",
               "bring": "Traiga sus medicinas", "change": "Para cambiarla, llame al (202) 555-0143."},
    }[language]
    timed = _reminder(loaded=loaded, make_patient=make_patient, slug=slug, kind=kind, language=language,
                      discreet=discreet, at=time(14, 45), address=address)
    assert timed.startswith("Riverside Spine Clinic: ")
    assert words["date"] + words["time"] + words["where"] in timed
    for said in (words["bring"], words["change"], "STOP"):
        assert said in timed

    untimed = _reminder(loaded=loaded, make_patient=make_patient, slug=slug, kind=kind, language=language,
                        discreet=discreet, at=None, address="")
    assert f"{words['date']}." in untimed  # no time, no address: the sentence ends at the date
    assert words["time"].strip() not in untimed and " at ," not in untimed and " en ," not in untimed
    assert words["change"] in untimed

    for text in (timed, untimed):
        assert not re.search(r"\bNone\b|\{|\}|\.\.| ,| \.", text)
        if discreet:
            assert not re.search(DIAGNOSIS_WORDS[language], text.replace("Riverside Spine Clinic", ""), re.I)


def test_an_address_written_with_its_own_full_stop_ends_the_sentence_once(loaded, make_patient):
    text = _reminder(loaded=loaded, make_patient=make_patient, slug="after-diagnosis", kind=BOOKED,
                     language="en", discreet=False, at=time(9, 0), address="4 Elm St.")
    assert "30 September at 9:00 AM, at 4 Elm St. Bring" in text


def test_an_address_with_accents_gsm7_lacks_keeps_a_spanish_reminder_in_gsm7(loaded, make_patient):
    """The Spanish templates' notes (in template comments) carry "á, í, ó, ú"; the text itself is GSM-7,
    so a clinic's detail typed with them is folded, not sent as UCS-2 at half the length."""
    text = _reminder(loaded=loaded, make_patient=make_patient, slug="after-procedure", kind=DXA_BOOKED,
                     language="es", discreet=False, at=time(9, 0), address="Avenida Colón 5, planta 2")
    assert "en Avenida Colon 5, planta 2." in text
    assert sms_cost(text).encoding == GSM7 and sms_cost(text).segments <= 2
