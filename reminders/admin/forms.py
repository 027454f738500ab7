"""Forms of the coordinators' admin pages; validation lives in the services they call."""

import hashlib
import json
from itertools import groupby

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError

from ..models import AnchorEvent, Coordinator, Patient, Program, StatusReason, validate_time_zone
from ..services.csv_import import csv_size_problem
from ..services.enrollment_intake import PATIENT_FIELDS, IntakeCheck, PatientIntake, enrollment_intake_check
from ..time_zones import time_zone_accepted, time_zone_names

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
CLINIC_ZONE = "(the clinic's time zone)"


class TimeZoneChoiceField(forms.ChoiceField):
    """A time zone picked from the accepted ones, grouped by area; anything else is refused
    with the validator's reason (which names the current name of an old one)."""

    def __init__(self, *, blank_label: str = "", **kwargs):
        super().__init__(**kwargs)
        self.blank_label = blank_label
        self.choices = self._choices_with(current="")

    def _choices_with(self, *, current: str) -> list:
        choices = [("", self.blank_label)] if self.blank_label else []
        if current and not time_zone_accepted(current):
            # A zone stored before it was refused stays visible until someone picks a place.
            choices.append((current, f"{current} (not accepted any more: pick a place)"))
        names = time_zone_names()
        choices += [(name, name) for name in names if "/" not in name]
        for area, group in groupby((name for name in names if "/" in name), key=lambda name: name.split("/")[0]):
            choices.append((area, [(name, name) for name in group]))
        return choices

    def show_current(self, value: str) -> None:
        self.choices = self._choices_with(current=value or "")

    def validate(self, value):
        forms.Field.validate(self, value)  # required or not; the list's own check is the validator's
        if value not in self.empty_values:
            validate_time_zone(value)


def time_zone_form_field(db_field) -> TimeZoneChoiceField:
    """The form field for a model's ``time_zone``: a list, with a blank choice where blank is allowed."""
    return TimeZoneChoiceField(
        required=not db_field.blank, blank_label=CLINIC_ZONE if db_field.blank else "",
        label=db_field.verbose_name.capitalize(), help_text=db_field.help_text,
        initial=db_field.get_default() or None)


class TimeZoneModelForm(forms.ModelForm):
    """A model form whose time zone is picked from the list (see TimeZoneAdminMixin)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("time_zone")
        if isinstance(field, TimeZoneChoiceField) and self.instance.pk:
            field.show_current(self.instance.time_zone)


def errors_to_form(form: forms.Form, exc: ValidationError, *, field_map: dict[str, str | None] | None = None) -> None:
    """Put a service's ValidationError on the form's fields (unknown keys on the form as a whole)."""
    field_map = field_map or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.error_dict.items():
        name = field_map.get(key, key)
        form.add_error(name if name in form.fields else None, errors)


class PatientEnrollmentForm(forms.Form):
    """One page to enroll someone new: patient details, consent per channel, program and anchor.

    Every field is checked at once (``clean`` runs the intake check on whatever
    the fields' own parsing left), so a coordinator sees every problem in one round.
    """

    preview_digest = forms.CharField(widget=forms.HiddenInput, required=False)
    different_person = forms.BooleanField(
        required=False, label="This is a different person (e.g. a shared family phone)",
        help_text="Only when the patient shown above is someone else: each of them gets every text.")
    # Fields the preview's fingerprint leaves out: ticking the confirmation changes no timeline.
    UNDIGESTED = ("preview_digest", "different_person")

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        # The patient's fields as the model defines them (labels, help, phone and
        # e-mail parsing); the rules across fields are the services'.
        self.fields.update(forms.fields_for_model(Patient, fields=PATIENT_FIELDS))
        self.fields["time_zone"] = time_zone_form_field(Patient._meta.get_field("time_zone"))
        self.fields["date_of_birth"].widget = DATE_INPUT
        for name in ("sms_consent", "email_consent"):
            self.fields[name].initial = False  # ticked only when the patient agreed
        self.fields["clinic"].queryset = clinics
        only = list(clinics[:2])
        if len(only) == 1:
            self.fields["clinic"].initial = only[0].pk
        self.fields["program"] = forms.ModelChoiceField(Program.objects.filter(is_active=True))
        self.fields["anchor_event"] = forms.ChoiceField(choices=AnchorEvent.choices, label="Anchor event")
        self.fields["anchor_date"] = forms.DateField(
            widget=DATE_INPUT, label="Date of the diagnosis or procedure",
            help_text="In the patient's time zone.",
        )
        self.fields["preview_digest"] = self.fields.pop("preview_digest")
        self.fields["different_person"] = self.fields.pop("different_person")
        self.check: IntakeCheck | None = None

    def clean(self):
        cleaned = super().clean()
        # Fields their own parsing refused have no value: the checks that need them wait.
        refused = set(self.errors)
        try:
            self.check = enrollment_intake_check(intake=self.intake(), unchecked=refused)
        except ValidationError as exc:
            errors_to_form(self, exc, field_map={"patient": None})
        return cleaned

    def intake(self) -> PatientIntake:
        data = self.cleaned_data
        names = [*PATIENT_FIELDS, "program", "anchor_event", "anchor_date"]
        values = {name: data.get(name) for name in names}
        for name in ("first_name", "last_name", "mobile", "email", "time_zone", "language", "mrn"):
            values[name] = values[name] or ""  # None where the field was refused
        return PatientIntake(**values)

    def digest(self) -> str:
        """A signed fingerprint of what was previewed, so "Enroll" saves exactly that."""
        data = {k: str(v) for k, v in self.cleaned_data.items() if k not in self.UNDIGESTED}
        raw = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return signing.Signer(salt="enrollment-preview").sign(raw)

    def matches_preview(self) -> bool:
        return bool(self.cleaned_data.get("preview_digest")) and self.cleaned_data["preview_digest"] == self.digest()


class StatusChangeForm(forms.Form):
    """Pause, resume or cancel: a reason from the list, and an optional note."""

    REASONS = {
        "pause": [StatusReason.ADMITTED_TO_HOSPITAL, StatusReason.PATIENT_REQUEST],
        "resume": [StatusReason.DISCHARGED_FROM_HOSPITAL, StatusReason.PATIENT_REQUEST, StatusReason.PROCEDURE_DONE],
        "cancel": [reason for reason in StatusReason if reason != StatusReason.DISCHARGED_FROM_HOSPITAL],
    }

    reason = forms.ChoiceField(choices=())
    note = forms.CharField(
        required=False, max_length=120,
        help_text="Optional, e.g. which hospital or ward. Shown to coordinators only.",
    )

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "---------")] + [
            (reason.value, reason.label) for reason in self.REASONS[action]
        ]

    def reason_text(self) -> str:
        text = StatusReason(self.cleaned_data["reason"]).label
        note = self.cleaned_data.get("note", "").strip()
        return f"{text}: {note}" if note else text


class AnchorChangeForm(forms.Form):
    anchor_date = forms.DateField(widget=DATE_INPUT, label="Correct anchor date")
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class CsvUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma separated, with the template's header.")

    def csv_bytes(self) -> bytes | None:
        """The uploaded file, once the form is valid and the file not too big (refused before it is read);
        None with the reason on the field otherwise."""
        if not self.is_valid():
            return None
        upload = self.cleaned_data["file"]
        if problem := csv_size_problem(size=upload.size):
            self.add_error("file", problem[0].upper() + problem[1:])
            return None
        return upload.read()


class SmsTestSelfForm(forms.Form):
    role = forms.ModelChoiceField(Coordinator.objects.none(), label="Clinic", empty_label=None)

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles

