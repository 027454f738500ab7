"""
The follow-up domain: clinics enroll patients in programs; every planned send
is a Message row, and those rows are the schedule.
"""

import re
import zoneinfo
from datetime import time, timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from .time_zones import time_zone_accepted, time_zone_current_name, time_zone_known
from .validators import (
    normalize_name,
    validate_dial_number,
    validate_person_name,
    validate_plain_email,
    validate_plain_text,
)


def validate_time_zone(value: str) -> None:
    """A place's zone from the tz database, or UTC (reminders/time_zones.py says which and why)."""
    if time_zone_accepted(value):
        return
    if current := time_zone_current_name(value):
        message = "%(value)s is not accepted as a time zone name: use %(current)s."
    elif time_zone_known(value):
        message = "%(value)s is not the time zone of a place (use a name such as Europe/London)."
    else:
        message = "%(value)s is not a known time zone (use a name such as Europe/London)."
    raise ValidationError(message, params={"value": value, "current": current}, code="invalid_time_zone")


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"


class SenderKind(models.TextChoices):
    """What a clinic texts from; it sets how many segments a second the provider lets it send."""

    LONG_CODE = "long_code", "Local number (long code)"
    TOLL_FREE = "toll_free", "Toll-free number"
    SHORT_CODE = "short_code", "Short code"
    MESSAGING_SERVICE = "messaging_service", "Messaging service"


# Segments a second a sender of each kind may send (US carriers' usual limits); a messaging
# service sends the sum of its numbers', so its rate is always given.
SENDER_RATES = {SenderKind.LONG_CODE: 1.0, SenderKind.TOLL_FREE: 3.0, SenderKind.SHORT_CODE: 100.0}
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
SHORT_CODE = re.compile(r"^\d{5,6}$")


class Clinic(models.Model):
    name = models.CharField(max_length=120, validators=[validate_plain_text])
    phone = PhoneNumberField(help_text="The number patients call, shown in messages.")
    email = models.EmailField(
        blank=True, validators=[validate_plain_email],
        help_text="Sender of the clinic's emails; the service default if blank.",
    )
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    # No texts at night: SMS due inside this window wait for its end.
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    alert_email = models.EmailField(
        blank=True, validators=[validate_plain_email],
        help_text="Urgent escalations (warning signs in a reply) are emailed here.",
    )
    # Clinical settings the messages quote; they differ between clinics and are
    # signed off by the clinic's physician, so no template hard-codes them.
    emergency_number = models.CharField(
        max_length=16, default="911", validators=[validate_dial_number],
        help_text="Emergency services number patients should call.",
    )
    after_hours_phone = PhoneNumberField(blank=True, help_text="Line for urgent questions out of hours.")
    lifting_limit = models.CharField(
        max_length=120, blank=True, validators=[validate_plain_text],
        help_text="E.g. 'nothing heavier than a gallon of milk for 6 weeks'.",
    )
    driving_advice = models.CharField(
        max_length=160, blank=True, validators=[validate_plain_text],
        help_text="E.g. 'no driving for 2 weeks, and never on opioids'.",
    )
    consultation_target_days = models.PositiveSmallIntegerField(
        default=14, help_text="Days within which a spine specialist should see the patient."
    )
    address = models.CharField(
        max_length=160, blank=True, validators=[validate_plain_text],
        help_text="Where patients come for appointments; quoted in appointment reminders.",
    )
    # The clinic's own sender; blank: the service's (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID).
    # Replies that come to it belong to this clinic.
    sms_sender = models.CharField(
        "SMS sender", max_length=34, blank=True,
        help_text="The clinic's own number (E.164, e.g. +12025550100), short code or messaging service SID "
                  "(MG...); blank: the service's default sender.",
    )
    sms_sender_kind = models.CharField("Kind of sender", max_length=20, choices=SenderKind.choices, blank=True)
    sms_segments_per_second = models.FloatField(
        "Segments per second", null=True, blank=True,
        help_text="The sender's rate at the provider; blank: the kind's usual rate (1 for a local number, 3 "
                  "toll-free, 100 for a short code). A messaging service: the sum of its numbers' rates.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["sms_sender"], condition=~Q(sms_sender=""), name="clinic_sender_unique",
                                    violation_error_message="Another clinic texts from this sender."),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.quiet_hours_start == self.quiet_hours_end:
            errors["quiet_hours_end"] = "Quiet hours must start and end at different times."
        errors.update(self._sender_errors())
        if errors:
            raise ValidationError(errors)

    def _sender_errors(self) -> dict[str, str]:
        self.sms_sender = (self.sms_sender or "").strip()
        sender, kind, rate = self.sms_sender, self.sms_sender_kind, self.sms_segments_per_second
        if not sender:
            if kind or rate is not None:
                return {"sms_sender": "Give the sender, or leave its kind and rate blank to use the service's."}
            return {}
        if not kind:
            return {"sms_sender_kind": "Say what kind of sender this is."}
        if rate is not None and not 0 < rate <= 10_000:
            return {"sms_segments_per_second": "A rate is more than 0 and at most 10000 segments a second."}
        if kind == SenderKind.MESSAGING_SERVICE:
            if not MESSAGING_SERVICE_SID.match(sender):
                return {"sms_sender": "A messaging service SID is MG followed by 32 hexadecimal digits."}
            if rate is None:
                return {"sms_segments_per_second": "Give a messaging service's rate: the sum of its numbers'."}
        elif kind == SenderKind.SHORT_CODE:
            if not SHORT_CODE.match(sender):
                return {"sms_sender": "A short code is 5 or 6 digits."}
        else:
            try:
                number = phonenumbers.parse(sender, None)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                return {"sms_sender": "Not a valid phone number in international format (e.g. +12025550100)."}
            self.sms_sender = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return {}

    @property
    def sms_rate(self) -> float | None:
        """The clinic's own sender's rate in segments a second; None when it uses the service's sender."""
        if not self.sms_sender:
            return None
        return self.sms_segments_per_second or SENDER_RATES.get(self.sms_sender_kind)


# The zone where a day starts first: no date later than today there has come yet.
LATEST_ZONE = zoneinfo.ZoneInfo("Etc/GMT-14")


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    first_name = models.CharField(max_length=80, validators=[validate_person_name])
    last_name = models.CharField(max_length=80, validators=[validate_person_name])
    mobile = PhoneNumberField(blank=True, help_text="Mobile number, stored in E.164.")
    email = models.EmailField(blank=True, validators=[validate_plain_email])
    # The clinic's own record number: matched first when looking for a patient already on file.
    mrn = models.CharField(
        "Medical record number", max_length=32, blank=True, validators=[validate_plain_text],
        help_text="Optional; unique in the clinic.",
    )
    date_of_birth = models.DateField("Date of birth", null=True, blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Leave blank to use the clinic's time zone.",
    )
    language = models.CharField(
        max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    # The current consent per channel; every change is also written to the
    # ConsentEvent ledger by the consent service. Off until someone says the
    # patient agreed: consent is given, never assumed.
    sms_consent = models.BooleanField("Consents to SMS", default=False)
    email_consent = models.BooleanField("Consents to email", default=False)
    discreet = models.BooleanField(
        "Discreet SMS", default=False,
        help_text="No diagnosis or procedure words in texts (a shared phone or a visible lock screen).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by patient_forget: the record is anonymized and kept only for the counts.
    forgotten_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["clinic", "last_name"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "mrn"], condition=~Q(mrn=""), name="patient_mrn_unique_per_clinic",
                violation_error_message="Another patient of this clinic has this medical record number.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def __repr__(self) -> str:
        # Reprs end up in tracebacks and debug logs (Django's template engine logs
        # a whole context on a failed lookup): an id, never the name.
        return f"<Patient: {self.pk}>"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or self.clinic.time_zone)

    def channels(self) -> list[str]:
        """The channels this patient can be reached on now."""
        found = []
        # Compared, not tested for truth: a PhoneNumber's truth formats and validates it.
        if self.sms_consent and self.mobile not in (None, ""):
            found.append(Channel.SMS)
        if self.email_consent and self.email:
            found.append(Channel.EMAIL)
        return found

    def clean(self) -> None:
        # One spelling per name however it was typed (é composed or not, spaces doubled).
        self.first_name, self.last_name = normalize_name(self.first_name), normalize_name(self.last_name)
        self.mrn = (self.mrn or "").strip()
        errors = {}
        # Today somewhere on Earth (UTC+14) is the latest a birth can be.
        if self.date_of_birth and self.date_of_birth > timezone.now().astimezone(LATEST_ZONE).date():
            errors["date_of_birth"] = f"{self.date_of_birth:%Y-%m-%d} is in the future."
        if self.sms_consent and not self.mobile:
            errors["mobile"] = "A mobile number is needed to send SMS."
        if self.email_consent and not self.email:
            errors["email"] = "An email address is needed to send email."
        if errors:
            raise ValidationError(errors)


class AnchorEvent(models.TextChoices):
    DIAGNOSIS = "diagnosis", "Fracture diagnosis (no procedure)"
    PVP = "pvp", "Vertebroplasty (PVP)"
    PKP = "pkp", "Kyphoplasty (PKP)"


class ProgramKind(models.TextChoices):
    AFTER_DIAGNOSIS = "after_diagnosis", "After a fracture diagnosis without a procedure"
    AFTER_PROCEDURE = "after_procedure", "After vertebroplasty or kyphoplasty"


# Which anchor events start which kind of program.
ANCHOR_EVENTS_BY_KIND = {
    ProgramKind.AFTER_DIAGNOSIS: {AnchorEvent.DIAGNOSIS},
    ProgramKind.AFTER_PROCEDURE: {AnchorEvent.PVP, AnchorEvent.PKP},
}


class Program(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=ProgramKind.choices)
    description = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    # Hash of the loaded definition, so reloading an unchanged file is a no-op.
    definition_hash = models.CharField(max_length=64, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MilestoneKind(models.TextChoices):
    """The dated facts of a patient's road through the fracture liaison service."""

    CONSULTATION_BOOKED = "consultation_booked", "Consultation booked"
    CONSULTATION_ATTENDED = "consultation_attended", "Consultation attended"
    DXA_BOOKED = "dxa_booked", "Bone density scan booked"
    DXA_DONE = "dxa_done", "Bone density scan done"
    TREATMENT_RECOMMENDED = "treatment_recommended", "Bone medicine recommended"
    TREATMENT_STARTED = "treatment_started", "Bone medicine started"
    TREATMENT_DECLINED = "treatment_declined", "Bone medicine declined"
    MONITORING_CONTACT = "monitoring_contact", "Monitoring contact"
    ON_TREATMENT_CONFIRMED = "on_treatment_confirmed", "Still on bone medicine"
    REFRACTURE = "refracture", "New fracture"
    FALL = "fall", "Fall"
    ADMITTED = "admitted", "Admitted to hospital"
    DISCHARGED = "discharged", "Discharged from hospital"
    DIED = "died", "Died"
    MOVED_AWAY = "moved_away", "Moved away"


# Appointments: their date (and time, when known) is the appointment's, and steps may be timed from them.
APPOINTMENT_KINDS = (MilestoneKind.CONSULTATION_BOOKED, MilestoneKind.DXA_BOOKED)
# Milestones that end every open enrollment of the patient.
ENDING_KINDS = (MilestoneKind.DIED, MilestoneKind.MOVED_AWAY)


class Topic(models.TextChoices):
    SPECIALIST_CONSULTATION = "specialist_consultation", "Specialist consultation"
    EARLY_MOBILIZATION = "early_mobilization", "Early mobilization"
    WARNING_SIGNS = "warning_signs", "Warning signs"
    WOUND_CARE = "wound_care", "Wound care"
    PAIN = "pain", "Pain"
    BONE_HEALTH = "bone_health", "Bone health"
    MEDICATION = "medication", "Medication"
    FALLS = "falls", "Falls"


class StepChannel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    BOTH = "both", "SMS and email"


class AnswerKind(models.TextChoices):
    NONE = "", "No answer asked"
    PAIN_SCORE = "pain_score", "Pain score 0 to 10"
    YES_NO = "yes_no", "Yes or no"
    CHOICE_1_3 = "choice_1_3", "Reply 1, 2 or 3"


def step_title(*, key: str, topic: str) -> str:
    """A step in words, from its key and topic: "Welcome / warning signs", "Pain check / pain"."""
    words = re.sub(r"^day\d+[-_]?", "", key).replace("-", " ").replace("_", " ").strip()
    label = str(Topic(topic).label) if topic in Topic.values else topic.replace("_", " ")
    if not words or words.lower() == label.lower():
        return label
    return f"{words[0].upper()}{words[1:]} / {label.lower()}"


class Step(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(help_text="Stable name of the step within its program.")
    # Timed from the anchor date, or from a milestone (an appointment) when relative_to names one:
    # then offset_days may be negative (-1 at 18:00: the evening before) or offset_hours counts
    # from the appointment's time (-2: two hours before).
    relative_to = models.CharField(
        max_length=32, blank=True, default="",
        choices=[("", "Anchor date"), *[(kind.value, kind.label) for kind in APPOINTMENT_KINDS]],
        help_text="The milestone this step is timed from; blank: the anchor date.",
    )
    offset_days = models.IntegerField(help_text="Days after the anchor event (or the milestone's date).")
    offset_hours = models.IntegerField(
        null=True, blank=True, help_text="Hours from the appointment's time, instead of a day and a time."
    )
    send_time = models.TimeField(help_text="Local time of day in the patient's zone.")
    # Milestones that make the step pointless: once one is recorded, its unsent messages are cancelled.
    until = models.JSONField(default=list, blank=True)
    # A check-in's answers that record a milestone, e.g. {"1": "consultation_attended"}.
    answer_milestones = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=8, choices=StepChannel.choices)
    topic = models.CharField(max_length=32, choices=Topic.choices)
    template = models.CharField(
        max_length=120, help_text="Template folder under templates/messages/<language>/."
    )
    # The late policy: a message found later than this past its due time is
    # skipped, not sent as a stale reminder. Empty means "send however late".
    max_lateness = models.DurationField(
        null=True, blank=True, default=timedelta(hours=12)
    )
    # A check-in: the answer the message asks for, and the rule that turns an
    # answer into an escalation (">=7", "no", "2,3"; empty: never).
    asks = models.CharField(max_length=16, choices=AnswerKind.choices, blank=True, default="")
    escalate_when = models.CharField(max_length=32, blank=True)
    escalation_note = models.CharField(
        max_length=200, blank=True, help_text="What the coordinator should do, e.g. 'call about a specialist review'."
    )

    class Meta:
        ordering = ["program", "offset_days", "send_time", "key"]
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="step_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.when} · {self.title}"

    @property
    def when(self) -> str:
        """When the step goes out in words: "Day 7", "Day before consultation booked", "2 hours before ..."."""
        if not self.relative_to:
            return f"Day {self.offset_days}"
        what = str(MilestoneKind(self.relative_to).label).lower()
        if self.offset_hours is not None:
            n = abs(self.offset_hours)
            return f"{n} hour{'' if n == 1 else 's'} {'before' if self.offset_hours < 0 else 'after'} {what}"
        if self.offset_days == 0:
            return f"Day of {what}"
        n = abs(self.offset_days)
        return f"{n} day{'' if n == 1 else 's'} {'before' if self.offset_days < 0 else 'after'} {what}"

    @property
    def title(self) -> str:
        return step_title(key=self.key, topic=self.topic)

    def clean(self) -> None:
        errors = {}
        if not self.relative_to and self.offset_days is not None and self.offset_days < 0:
            errors["offset_days"] = "A step timed from the anchor date cannot come before it."
        if self.offset_hours is not None and not self.relative_to:
            errors["offset_hours"] = "Only a step timed from an appointment counts hours from it."
        if not isinstance(self.until, list) or any(kind not in MilestoneKind.values for kind in self.until):
            errors["until"] = f"Milestones are among: {', '.join(MilestoneKind.values)}."
        answers = self.answer_milestones
        if not isinstance(answers, dict) or any(kind not in MilestoneKind.values for kind in answers.values()):
            errors["answer_milestones"] = f"Answers record milestones among: {', '.join(MilestoneKind.values)}."
        elif answers and not self.asks:
            errors["answer_milestones"] = "Only a check-in (a step that asks) has answers."
        if errors:
            raise ValidationError(errors)

    def channels(self) -> list[str]:
        if self.channel == StepChannel.BOTH:
            return [Channel.SMS, Channel.EMAIL]
        return [self.channel]


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class StatusReason(models.TextChoices):
    """Why a coordinator paused, resumed or cancelled an enrollment (stored as the label)."""

    CONSULTATION_ATTENDED = "consultation_attended", "Consultation attended"
    PROCEDURE_DONE = "procedure_done", "Procedure done"
    ADMITTED_TO_HOSPITAL = "admitted_to_hospital", "Admitted to hospital"
    DISCHARGED_FROM_HOSPITAL = "discharged_from_hospital", "Discharged from hospital"
    DECEASED = "deceased", "Deceased"
    MOVED_AWAY = "moved_away", "Moved away"
    PATIENT_REQUEST = "patient_request", "Patient request"


class Enrollment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="enrollments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    anchor_event = models.CharField(max_length=16, choices=AnchorEvent.choices)
    anchor_date = models.DateField(
        help_text="Date of the diagnosis or procedure, in the patient's time zone."
    )
    status = models.CharField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=200, blank=True)
    # The milestone (died, moved away) that ended the enrollment: withdrawing it opens the enrollment again.
    ended_by = models.ForeignKey(
        "Milestone", null=True, blank=True, on_delete=models.SET_NULL, related_name="ended_enrollments"
    )
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One live enrollment per patient and program.
            models.UniqueConstraint(
                fields=["patient", "program"],
                condition=Q(status__in=["active", "paused"]),
                name="enrollment_one_open_per_program",
                violation_error_message="This patient is already enrolled in this program.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} in {self.program}"

    def __repr__(self) -> str:
        return f"<Enrollment: {self.pk}>"  # str() names the patient; see Patient.__repr__

    def clean(self) -> None:
        if self.program_id and self.anchor_event:
            allowed = ANCHOR_EVENTS_BY_KIND.get(self.program.kind, set())
            if self.anchor_event not in allowed:
                raise ValidationError(
                    {
                        "anchor_event": (
                            f"{self.get_anchor_event_display()} does not start the "
                            f"program “{self.program.name}”."
                        )
                    }
                )


class MilestoneSource(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator"
    IMPORT = "import", "CSV upload"
    PATIENT_REPLY = "patient_reply", "Patient's reply"


class Milestone(models.Model):
    """A dated fact about a patient's road (a consultation booked or attended, a scan, bone medicine...).

    Never deleted: a mistake is corrected (the history keeps the old values) or withdrawn, and the
    schedule follows either way (services/milestones.py).
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=32, choices=MilestoneKind.choices)
    # In the patient's zone; an appointment's own date and time.
    date = models.DateField()
    time = models.TimeField(null=True, blank=True)
    detail = models.CharField(
        max_length=200, blank=True, validators=[validate_plain_text],
        help_text="E.g. the medicine, the specialist, the place.",
    )
    source = models.CharField(max_length=16, choices=MilestoneSource.choices, default=MilestoneSource.COORDINATOR)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    # The reply it came from, when the patient answered a check-in.
    inbound = models.ForeignKey(
        "InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="milestones"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawal_reason = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date", "time", "id"]
        indexes = [
            models.Index(fields=["patient", "kind"], condition=Q(withdrawn_at__isnull=True),
                         name="milestone_current_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date:%Y-%m-%d}"

    def __repr__(self) -> str:
        return f"<Milestone: {self.pk}>"

    def clean(self) -> None:
        errors = {}
        if self.time is not None and self.kind and self.kind not in APPOINTMENT_KINDS:
            errors["time"] = "Only an appointment (a consultation or a scan booked) has a time."
        # Today somewhere on Earth (UTC+14) is the latest a fact can be dated; an appointment may be later.
        if (self.date and self.kind and self.kind not in APPOINTMENT_KINDS
                and self.date > timezone.now().astimezone(LATEST_ZONE).date()):
            errors["date"] = f"{self.date:%Y-%m-%d} is in the future; only an appointment can be."
        if errors:
            raise ValidationError(errors)

    @property
    def is_current(self) -> bool:
        return self.withdrawn_at is None


class StepMute(models.Model):
    """One step of one enrollment silenced by a coordinator, with the reason; lifted by unmuting."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="step_mutes")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, validators=[validate_plain_text])
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    muted_at = models.DateTimeField(auto_now_add=True)
    unmuted_at = models.DateTimeField(null=True, blank=True)
    unmuted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-muted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], condition=Q(unmuted_at__isnull=True),
                                    name="step_mute_one_current",
                                    violation_error_message="This step is already muted for this patient."),
        ]

    def __str__(self) -> str:
        return f"Step {self.step_id} muted on enrollment {self.enrollment_id}"


class ContactAttempt(models.Model):
    """A coordinator's call (or attempt) to a patient about their road, e.g. from the needs-action list."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contact_attempts")
    note = models.CharField(max_length=300, validators=[validate_plain_text])
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self) -> str:
        return f"Contact attempt {self.pk}"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # planned, waiting for its due time
    PAUSED = "paused", "Paused"  # held while the enrollment is paused
    QUEUED = "queued", "Queued"  # claimed by a dispatch cycle, handed to a worker
    SENDING = "sending", "Sending"  # a worker is talking to the provider
    UNKNOWN = "unknown", "Outcome unknown"  # the provider may have it: settled by callback or lookup
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


# Groups of statuses the services and selectors ask about.
# Not handed to a provider yet: cancelling or withdrawing consent still stops these.
UNSENT_STATUSES = (MessageStatus.PENDING, MessageStatus.PAUSED, MessageStatus.QUEUED)
# Accepted by the provider.
SENT_STATUSES = (MessageStatus.SENT, MessageStatus.DELIVERED)
# May have reached the patient (an unknown outcome counts): an SMS after these is not the first.
REACHED_STATUSES = (*SENT_STATUSES, MessageStatus.UNKNOWN)


class CancelSource(models.TextChoices):
    """What cancelled a message that may come back: the schedule follows milestones and mutes both ways."""

    NONE = "", "Other"
    MILESTONE = "milestone", "A milestone"
    MUTE = "mute", "The step muted"


class Message(models.Model):
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    # The appointment a reminder is about (a step timed from a milestone): one per step, channel and appointment.
    # Milestones are withdrawn, never deleted; only deleting the patient (the demo's reset) takes
    # one away, with the patient's enrollments and messages.
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The planned time ("day N at HH:MM in the patient's zone"), in UTC.
    scheduled_at = models.DateTimeField()
    # When it may go out next: the planned time, moved by quiet hours.
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    reason = models.CharField(max_length=300, blank=True)
    cancel_source = models.CharField(max_length=16, choices=CancelSource.choices, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=16, blank=True, help_text="The provider's error code.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    # An email sent because this SMS could not be delivered points back to it.
    fallback_for = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallback"
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True, help_text="The text as sent.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step", "channel"], condition=Q(milestone__isnull=True),
                name="message_unique_per_step_channel",
            ),
            models.UniqueConstraint(
                fields=["enrollment", "step", "channel", "milestone"], condition=Q(milestone__isnull=False),
                name="message_unique_per_step_channel_appointment",
            ),
        ]
        indexes = [
            # The dispatcher's scan: only unsent rows, so its cost stays flat
            # however many sent rows pile up.
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending"),
                name="message_pending_due_idx",
            ),
            # Recovery of claims whose worker died.
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="message_leased_idx",
            ),
            # Rows by status and time (the admin's status filter), pending ones
            # excepted: those are message_pending_due_idx's, so the claim has one
            # obvious index at any table size (measured with a million rows).
            models.Index(fields=["status", "due_at"], condition=~Q(status="pending"),
                         name="message_status_due_idx"),
            # The admin's list order (due time, then id) and its date bounds,
            # without sorting the whole table.
            models.Index(fields=["due_at", "id"], name="message_due_idx"),
            # The daily reconciliation: a clinic's messages planned for one day.
            models.Index(fields=["scheduled_at"], name="message_scheduled_idx"),
            models.Index(fields=["provider_message_id"], name="message_provider_id_idx"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.channel}, {self.status})"


class Coordinator(models.Model):
    """A staff user who works for a clinic; coordinators see only their clinics' data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinator_roles")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="coordinators")
    mobile = PhoneNumberField(blank=True, help_text="For test messages to oneself.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="coordinator_unique_per_clinic"),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.clinic}"


class ConsentActor(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator"
    PATIENT_KEYWORD = "patient_keyword", "Patient keyword (SMS)"
    UNSUBSCRIBE_LINK = "unsubscribe_link", "Unsubscribe link"
    PROVIDER_ERROR = "provider_error", "Provider error"
    IMPORT = "import", "Bulk import"


class ConsentEvent(models.Model):
    """The consent ledger: every grant and withdrawal, per patient and channel. Append-only."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    given = models.BooleanField()
    actor = models.CharField(max_length=24, choices=ConsentActor.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    source = models.CharField(max_length=200, help_text="E.g. 'STOP keyword', 'Twilio error 21610'.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "channel", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} consent {'given' if self.given else 'withdrawn'}"


class InboundKind(models.TextChoices):
    OPT_OUT = "opt_out", "Opt-out"
    OPT_IN = "opt_in", "Opt-in"
    HELP = "help", "Help"
    ANSWER = "answer", "Check-in answer"
    RED_FLAG = "red_flag", "Warning sign"
    REPLY = "reply", "Reply"


class InboundMessage(models.Model):
    """An SMS a patient (or an unknown number) sent to the clinic."""

    provider_message_id = models.CharField(max_length=64, unique=True)
    from_number = PhoneNumberField()
    to_number = models.CharField(max_length=32, blank=True)
    body = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=InboundKind.choices, default=InboundKind.REPLY)
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="inbound_messages")
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="inbound_messages")
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="inbound_messages")
    in_reply_to = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["clinic", "-received_at"])]

    def __str__(self) -> str:
        return f"Reply {self.pk} ({self.get_kind_display()})"


class CheckInAnswer(models.Model):
    """A patient's answer to a check-in step, recorded on the enrollment."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="answers")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="answers")
    inbound = models.OneToOneField(InboundMessage, on_delete=models.CASCADE, related_name="answer")
    value = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.step.key}: {self.value}"


class EscalationKind(models.TextChoices):
    RED_FLAG = "red_flag", "Warning sign in a reply"
    CHECK_IN = "check_in", "Check-in answer"


class Urgency(models.IntegerChoices):
    URGENT = 1, "Urgent"
    ROUTINE = 2, "Routine"


class Escalation(models.Model):
    """Something a coordinator must act on, until acknowledged."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="escalations")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="escalations")
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="escalations")
    inbound = models.ForeignKey(InboundMessage, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="escalations")
    kind = models.CharField(max_length=16, choices=EscalationKind.choices)
    # The check-in answered, for a check-in escalation: one is open per check-in step.
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.PROTECT, related_name="escalations")
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.ROUTINE)
    summary = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["acknowledged_at", "urgency", "-created_at"]
        constraints = [
            # One open escalation per patient and kind, whatever races to open a second
            # (two replies at once): one urgent call and one alert, not two.
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(acknowledged_at__isnull=True) & ~Q(kind="check_in"),
                name="escalation_one_open_per_patient_and_kind",
            ),
            # Check-ins ask different things (pain, a specialist booked, a bone scan),
            # each with its own follow-up: one open per check-in step, so that an open
            # pain escalation does not swallow "no specialist booked".
            models.UniqueConstraint(
                fields=["enrollment", "step"],
                condition=Q(acknowledged_at__isnull=True, kind="check_in"),
                name="escalation_one_open_per_check_in_step",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "urgency", "-created_at"],
                         condition=Q(acknowledged_at__isnull=True), name="escalation_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_urgency_display()} escalation {self.pk}"


class EscalationNote(models.Model):
    """What a coordinator did about an escalation (called the patient, booked a visit...). Append-only:
    the notes are the escalation's history, each with who wrote it and when."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField(max_length=1000)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note {self.pk} on escalation {self.escalation_id}"
