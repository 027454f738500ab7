"""The worst realistic case the content rules are checked against."""

from reminders.models import Clinic, Patient

# 50 characters, GSM-7: the longest name we expect a clinic to put in front of every text.
# It contains diagnosis words on purpose: a clinic's own name is its choice, not the template's.
LONG_CLINIC_NAME = "Saint Bartholomew's Regional Spine and Bone Clinic"
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
    )


def sparse_clinic() -> Clinic:
    """An unsaved clinic that left every optional setting empty."""
    return Clinic(name="Hillcrest Clinic", phone="+442079460958", time_zone="Europe/London",
                  emergency_number="999", consultation_target_days=10)


def patient(*, clinic: Clinic, language: str, discreet: bool) -> Patient:
    return Patient(clinic=clinic, first_name=LONG_FIRST_NAMES[language], last_name="Okafor",
                   mobile="+12025550101", email="p@example.com", language=language,
                   discreet=discreet, sms_consent=True, email_consent=True)
