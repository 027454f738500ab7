"""Forms of the patient's road: record, move or correct, withdraw a milestone; mute a step; note a call.

The milestone forms check a milestone as the model does (a time only for an
appointment, no fact dated in the future) so that the preview is never shown
for what could not be saved; the writes go through the services.
"""

from django import forms

from ..models import APPOINTMENT_KINDS, Milestone
from .forms import DATE_INPUT

TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class PreviewConfirmFields(forms.Form):
    """The fields every preview-then-confirm form carries: what was previewed, and whether this is the confirm."""

    fingerprint = forms.CharField(widget=forms.HiddenInput, required=False)
    confirmed = forms.BooleanField(widget=forms.HiddenInput, required=False)
    next = forms.CharField(widget=forms.HiddenInput, required=False)

    HIDDEN = ("fingerprint", "confirmed", "next")

    def visible_names(self) -> list[str]:
        return [name for name in self.fields if name not in self.HIDDEN]


class MilestoneRecordForm(PreviewConfirmFields, forms.ModelForm):
    class Meta:
        model = Milestone
        fields = ["kind", "date", "time", "detail"]
        labels = {"kind": "Milestone", "time": "Time", "detail": "Detail"}
        help_texts = {"time": "For a consultation or a scan booked: the appointment's time, in the patient's zone.",
                      "date": "In the patient's zone; an appointment's own date."}
        widgets = {"date": DATE_INPUT, "time": TIME_INPUT}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.attrs["data-appointment-kinds"] = " ".join(APPOINTMENT_KINDS)


class MilestoneCorrectForm(PreviewConfirmFields, forms.ModelForm):
    """A new date (and time, for an appointment) or detail for a milestone that stands."""

    class Meta:
        model = Milestone
        fields = ["date", "time", "detail"]
        widgets = {"date": DATE_INPUT, "time": TIME_INPUT}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.kind not in APPOINTMENT_KINDS:
            del self.fields["time"]  # only an appointment has a time
        self.fields["date"].label = "New date" if self.instance.kind in APPOINTMENT_KINDS else "Date"


class MilestoneWithdrawForm(PreviewConfirmFields):
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Give a reason."},
        help_text="Why it is withdrawn, e.g. recorded on the wrong patient, the appointment was cancelled.")

    field_order = ["reason"]


class StepMuteForm(PreviewConfirmFields):
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Give a reason."},
        help_text="Why this patient should not get this step, e.g. bed-bound, the advice does not apply.")

    field_order = ["reason"]


class ContactAttemptForm(forms.Form):
    note = forms.CharField(
        max_length=300, label="Call attempt",
        help_text="What happened, e.g. no answer, left a voicemail, booked a visit.")
    next = forms.CharField(widget=forms.HiddenInput, required=False)
