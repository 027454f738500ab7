"""Forms of the coordinators' admin pages; validation lives in the services they call."""

import hashlib
import json

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError

from ..models import AnchorEvent, Coordinator, Patient, Program, StatusReason
from ..services.enrollment_intake import PATIENT_FIELDS, PatientIntake

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


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
    """One page to enroll someone new: patient details, consent per channel, program and anchor."""

    preview_digest = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        # The patient's fields as the model defines them (labels, help, phone and
        # e-mail parsing); the rules across fields are the services'.
        self.fields.update(forms.fields_for_model(Patient, fields=PATIENT_FIELDS))
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

    def intake(self) -> PatientIntake:
        data = self.cleaned_data
        names = [*PATIENT_FIELDS, "program", "anchor_event", "anchor_date"]
        values = {name: data.get(name) for name in names}
        values["mobile"] = values["mobile"] or ""
        return PatientIntake(**values)

    def digest(self) -> str:
        """A signed fingerprint of what was previewed, so "Enroll" saves exactly that."""
        data = {k: str(v) for k, v in self.cleaned_data.items() if k != "preview_digest"}
        raw = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return signing.Signer(salt="enrollment-preview").sign(raw)

    def matches_preview(self) -> bool:
        return bool(self.cleaned_data.get("preview_digest")) and self.cleaned_data["preview_digest"] == self.digest()


class StatusChangeForm(forms.Form):
    """Pause, resume or cancel: a reason from the list, and an optional note."""

    REASONS = {
        "pause": [StatusReason.ADMITTED_TO_HOSPITAL, StatusReason.PATIENT_REQUEST],
        "resume": [StatusReason.PATIENT_REQUEST, StatusReason.PROCEDURE_DONE],
        "cancel": list(StatusReason),
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


class SmsTestSelfForm(forms.Form):
    role = forms.ModelChoiceField(Coordinator.objects.none(), label="Clinic", empty_label=None)

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles

