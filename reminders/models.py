"""
The follow-up domain: clinics enroll patients in programs; every planned send
is a Message row, and those rows are the schedule.
"""

import zoneinfo
from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone (use a name such as Europe/London).",
            params={"value": value},
            code="invalid_time_zone",
        )


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"


class Clinic(models.Model):
    name = models.CharField(max_length=120)
    phone = PhoneNumberField(help_text="The number patients call, shown in messages.")
    email = models.EmailField(
        blank=True, help_text="Sender of the clinic's emails; the service default if blank."
    )
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    # No texts at night: SMS due inside this window wait for its end.
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.quiet_hours_start == self.quiet_hours_end:
            raise ValidationError(
                {"quiet_hours_end": "Quiet hours must start and end at different times."}
            )


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    mobile = PhoneNumberField(blank=True, help_text="Mobile number, stored in E.164.")
    email = models.EmailField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Leave blank to use the clinic's time zone.",
    )
    language = models.CharField(
        max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    prefers_sms = models.BooleanField("Send SMS", default=True)
    prefers_email = models.BooleanField("Send email", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["clinic", "last_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or self.clinic.time_zone)

    def channels(self) -> list[str]:
        """The channels this patient can be reached on now."""
        found = []
        if self.prefers_sms and self.mobile:
            found.append(Channel.SMS)
        if self.prefers_email and self.email:
            found.append(Channel.EMAIL)
        return found

    def clean(self) -> None:
        errors = {}
        if self.prefers_sms and not self.mobile:
            errors["mobile"] = "A mobile number is needed to send SMS."
        if self.prefers_email and not self.email:
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


class Step(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(help_text="Stable name of the step within its program.")
    offset_days = models.PositiveIntegerField(help_text="Days after the anchor event.")
    send_time = models.TimeField(help_text="Local time of day in the patient's zone.")
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

    class Meta:
        ordering = ["program", "offset_days", "send_time", "key"]
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="step_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.program.slug}: day {self.offset_days} {self.key}"

    def channels(self) -> list[str]:
        if self.channel == StepChannel.BOTH:
            return [Channel.SMS, Channel.EMAIL]
        return [self.channel]


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


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
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

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


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # planned, waiting for its due time
    PAUSED = "paused", "Paused"  # held while the enrollment is paused
    QUEUED = "queued", "Queued"  # claimed by a dispatch cycle, handed to a worker
    SENDING = "sending", "Sending"  # a worker is talking to the provider
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


# States a message never leaves.
FINAL_STATUSES = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.FAILED,
    MessageStatus.SKIPPED,
    MessageStatus.CANCELLED,
}


class Message(models.Model):
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The planned time ("day N at HH:MM in the patient's zone"), in UTC.
    scheduled_at = models.DateTimeField()
    # When it may go out next: the planned time, moved by quiet hours.
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
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
                fields=["enrollment", "step", "channel"], name="message_unique_per_step_channel"
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
            models.Index(fields=["status", "due_at"], name="message_status_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} ({self.channel}, {self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES
