"""The worst realistic case the content rules are checked against."""

from datetime import date, time

from reminders.models import Clinic, Milestone, MilestoneKind, Patient

# 50 characters, GSM-7: the longest name we expect a clinic to put in front of every text.
# It contains diagnosis words on purpose: a clinic's own name is its choice, not the template's.
LONG_CLINIC_NAME = "Saint Bartholomew's Regional Spine and Bone Clinic"
# About 45 characters: the longest address we expect a clinic to have quoted in its appointment
# reminders (street, suite, town and postcode); longer ones push a reminder past two segments,
# which the program preview (render_programs, the admin's program timeline) shows per clinic.
LONG_ADDRESS = "1250 Riverside Avenue, Suite 400, Springfield"
# The longest date an appointment reminder writes: "30 September", "30 de septiembre".
LONGEST_DATE = date(2026, 9, 30)
# About 20 characters, with letters that are not GSM-7 (SMS never carry the name).
LONG_FIRST_NAMES = {"en": "Zoë-Siobhán Margaret", "es": "María de los Ángeles"}


def long_clinic() -> Clinic:
    """An unsaved clinic whose settings are the longest realistic values."""
    return Clinic(
        name=LONG_CLINIC_NAME,
        phone="+12025550143",
        time_zone="America/New_York",
        emergency_number="10177",
        after_hours_phone="+12025550199",
        lifting_limit="nothing heavier than a gallon of milk (about 8 pounds) for 6 weeks",
        driving_advice="no driving for 2 weeks, and never while you take opioid pain medicine",
        consultation_target_days=14,
        address=LONG_ADDRESS,
    )


def sparse_clinic() -> Clinic:
    """An unsaved clinic that left every optional setting empty."""
    return Clinic(name="Hillcrest Clinic", phone="+442079460958", time_zone="Europe/London",
                  emergency_number="999", consultation_target_days=10)


def appointments(*, timed: bool) -> dict[str, Milestone]:
    """A booked consultation and a booked scan on the longest date, with a time or without one."""
    at = time(10, 30) if timed else None
    return {kind: Milestone(kind=kind, date=LONGEST_DATE, time=at)
            for kind in (MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.DXA_BOOKED)}


def patient(*, clinic: Clinic, language: str, discreet: bool) -> Patient:
    return Patient(clinic=clinic, first_name=LONG_FIRST_NAMES[language], last_name="Okafor",
                   mobile="+12025550101", email="p@example.com", language=language,
                   discreet=discreet, sms_consent=True, email_consent=True)
