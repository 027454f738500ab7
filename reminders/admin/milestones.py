"""The patient's road on their page: the road at a glance, milestones recorded, moved or withdrawn
with a preview of what the schedule does, the milestones' history, and call attempts.

Every change is previewed first and applied by its service on "Confirm"; the
confirm carries a fingerprint of the preview, and a schedule that changed in
between is shown again instead of applied.
"""

import copy
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator

from ..models import APPOINTMENT_KINDS, Channel, Milestone, MilestoneKind, MilestoneSource, Patient
from ..refusals import quoted
from ..scheduling import moment_words
from ..selectors.milestone_effects import (
    MilestoneEffects,
    milestone_correct_effects,
    milestone_record_effects,
    milestone_withdraw_effects,
)
from ..selectors.milestones import ScheduleChange, ScheduleChangeRow
from ..selectors.patient_road import patient_milestone_history, patient_road
from ..services.contact_attempts import contact_attempt_record
from ..services.milestones import milestone_correct, milestone_record, milestone_withdraw
from .display import admin_page, age
from .forms import errors_to_form
from .inbox import phone_link
from .milestone_forms import ContactAttemptForm, MilestoneCorrectForm, MilestoneRecordForm, MilestoneWithdrawForm
from .scoping import ID

PREVIEW_TEMPLATE = "admin/reminders/schedule_change.html"
# The milestone's own fields as the service names them, onto the form's.
FIELD_MAP = {"on": "date", "at": "time", "patient": None}


def milestone_when(milestone: Milestone, zone: ZoneInfo) -> str:
    """A milestone's date (and an appointment's time, with the zone's abbreviation) in the patient's zone."""
    day = f"{milestone.date.day} {milestone.date:%b %Y}"
    if milestone.time is None:
        return day
    local = datetime.combine(milestone.date, milestone.time, tzinfo=zone)
    return f"{day} {milestone.time:%H:%M} {local.tzname()}"


def appointment_words(milestone: Milestone | None) -> str:
    """The appointment a reminder is about: "Consultation booked for 12 Jun 14:30"."""
    if milestone is None:
        return ""
    when = f"{milestone.date.day} {milestone.date:%b}" + (f" {milestone.time:%H:%M}" if milestone.time else "")
    return f"{MilestoneKind(milestone.kind).label} for {when}"


CHANGE_LABELS = {ScheduleChange.PLANS: "plans", ScheduleChange.MOVES: "moves", ScheduleChange.SKIPS: "skipped",
                 ScheduleChange.CANCELS: "cancels", ScheduleChange.PLANS_AGAIN: "plans again"}


def change_row(row: ScheduleChangeRow, zone: ZoneInfo) -> dict:
    """One row of a preview, in words: what happens to which step, when (in the patient's zone) and why."""
    label = CHANGE_LABELS[row.change]
    why = row.reason
    if row.change in (ScheduleChange.PLANS, ScheduleChange.PLANS_AGAIN):
        if row.status == "skipped":
            label = "skipped"
        elif row.status == "cancelled":
            label = "not planned"
        elif row.status == "paused":
            label += ", held"  # the enrollment is paused: it waits for the resume
        elif row.sends_late:
            label += ": sends now, late"
            why = why or "its time has passed, within the step's late policy"
    when = moment_words(row.due_at, zone)
    if row.change == ScheduleChange.MOVES and row.message is not None:
        when = f"{moment_words(row.message.due_at, zone)} → {when}"
    elif row.status in ("skipped", "cancelled") and row.change != ScheduleChange.SKIPS and row.message is None:
        when = "-"
    elif row.change == ScheduleChange.CANCELS:
        when = f"was {when}"
    return {"change": row.change.value, "label": label, "step": row.step.title,
            "appointment": appointment_words(row.milestone), "channel": Channel(row.channel).label,
            "when": when, "why": why,
            "words": f"{label}: {row.step.title}" + (f" on {when}" if label.startswith("plans") else "")
                     + (f" ({why})" if why else "")}


def effects_context(effects: MilestoneEffects | None, zone: ZoneInfo) -> dict:
    if effects is None:
        return {"effects": None}
    sections = [{"enrollment": changes.enrollment, "rows": [change_row(row, zone) for row in changes.rows]}
                for changes in effects.changes]
    reopening = [{"enrollment": item.enrollment, "stays_ended": item.stays_ended,
                  "rows": [change_row(row, zone) for row in item.rows]} for item in effects.reopening]
    return {"effects": effects, "sections": sections, "ending": effects.ending, "reopening": reopening,
            "fingerprint": effects.fingerprint(), "summary": effects_summary(effects)}


SUMMARY_WORDS = {ScheduleChange.PLANS: "planned", ScheduleChange.MOVES: "moved", ScheduleChange.SKIPS: "skipped",
                 ScheduleChange.CANCELS: "cancelled", ScheduleChange.PLANS_AGAIN: "planned again"}


def effects_summary(effects: MilestoneEffects) -> str:
    """"1 cancelled, 2 planned" over every enrollment; "" when the schedule does not change."""
    counts: dict[str, int] = {}
    rows = [row for changes in effects.changes for row in changes.rows]
    rows += [row for item in effects.reopening for row in item.rows]
    for row in rows:
        counts[SUMMARY_WORDS[row.change]] = counts.get(SUMMARY_WORDS[row.change], 0) + 1
    words = [f"{n} {label}" for label, n in counts.items()]
    if effects.ending:
        words.append(f"{len(effects.ending)} enrollment{'s' if len(effects.ending) != 1 else ''} ended")
    if reopened := [item for item in effects.reopening if not item.stays_ended]:
        words.append(f"{len(reopened)} enrollment{'s' if len(reopened) != 1 else ''} open again")
    return ", ".join(words)


def safe_next(request, url: str | None) -> str:
    """A ``next`` address only when it leads back into this site."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()) and url.startswith("/"):
        return url
    return ""


def preview_then_apply(
    model_admin, request, *, form, log_obj, title: str, zone: ZoneInfo, back_url: str,
    preview: Callable[[dict], MilestoneEffects], apply: Callable[[dict], object], done: Callable[[dict], str],
    preview_on_get: bool = False, field_map: dict | None = None, **context,
):
    """A change in two steps: "Preview" shows what it does and writes nothing; "Confirm" applies
    exactly that through the service (or shows the preview again if the schedule changed since)."""
    effects = None
    if (request.method == "POST" and form.is_valid()) or (request.method != "POST" and preview_on_get):
        data = form.cleaned_data if form.is_bound else {}
        try:
            effects = preview(data)
            if data.get("confirmed"):
                if data.get("fingerprint") == effects.fingerprint():
                    apply(data)
                    message = done(data) + (f": {summary}." if (summary := effects_summary(effects)) else ".")
                    model_admin.log_change(request, log_obj, message)
                    model_admin.message_user(request, message, messages.SUCCESS)
                    return redirect(safe_next(request, data.get("next")) or back_url)
                model_admin.message_user(request, "The schedule changed since the preview: check it again below, "
                                                  "then confirm.", messages.WARNING)
        except ValidationError as exc:
            errors_to_form(form, exc, field_map=field_map or FIELD_MAP)
            effects = None
    hidden = [form[name] for name in getattr(form, "visible_names", list)()]
    response = admin_page(
        request, model_admin=model_admin, template=PREVIEW_TEMPLATE, title=title, form=form, hidden=hidden,
        zone=zone, back_url=back_url, next=safe_next(request, form["next"].value() if "next" in form.fields else ""),
        **effects_context(effects, zone), **context)
    if form.errors:
        response.status_code = 400  # shown again with the reason on the field; nothing changed
    return response


class PatientRoadAdminMixin:
    """The road at a glance on the patient's page, and its pages (for PatientAdmin)."""

    def get_urls(self):
        app, model = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/milestones/record/", view(self.milestone_record_view),
                 name=f"{app}_{model}_milestone_record"),
            path("<path:object_id>/milestones/history/", view(self.milestone_history_view),
                 name=f"{app}_{model}_milestone_history"),
            path("<path:object_id>/milestones/<str:milestone_id>/correct/", view(self.milestone_correct_view),
                 name=f"{app}_{model}_milestone_correct"),
            path("<path:object_id>/milestones/<str:milestone_id>/withdraw/", view(self.milestone_withdraw_view),
                 name=f"{app}_{model}_milestone_withdraw"),
            path("<path:object_id>/call-attempt/", view(self.contact_attempt_view),
                 name=f"{app}_{model}_contact_attempt"),
            *super().get_urls(),
        ]

    # The road at a glance, on the patient's page.

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and not add:
            context = {**context, **self.road_context(request, obj)}
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def road_context(self, request, patient: Patient) -> dict:
        road, zone = patient_road(patient=patient), patient.zone
        can_change = self.has_change_permission(request, patient)
        milestones = [{
            "kind": milestone.get_kind_display(), "when": milestone_when(milestone, zone),
            "detail": milestone.detail, "recorded_by": self._recorded_by(milestone),
            "recorded_at": moment_words(milestone.recorded_at, zone), "source": milestone.get_source_display(),
            "is_appointment": milestone.kind in APPOINTMENT_KINDS,
            "correct_url": reverse("admin:reminders_patient_milestone_correct", args=[patient.pk, milestone.pk]),
            "withdraw_url": reverse("admin:reminders_patient_milestone_withdraw", args=[patient.pk, milestone.pk]),
        } for milestone in road.milestones]
        following = road.next_message
        return {"road": {
            "zone": zone, "phone": phone_link(patient.mobile), "language": patient.get_language_display(),
            "milestones": milestones, "withdrawn": road.withdrawn, "can_change": can_change,
            "next": {"when": moment_words(following.due_at, zone), "step": following.step.title,
                     "channel": following.get_channel_display(), "program": following.enrollment.program.name,
                     "appointment": appointment_words(following.milestone)} if following else None,
            "replies": [{"when": moment_words(reply.received_at, zone), "kind": reply.get_kind_display(),
                         "text": Truncator(reply.body).chars(90),
                         "url": reverse("admin:reminders_inboundmessage_change", args=[reply.pk])}
                        for reply in road.replies],
            "escalations": [{"summary": escalation.summary, "urgency": escalation.get_urgency_display(),
                             "urgent": escalation.urgency == 1, "age": age(timezone.now() - escalation.created_at),
                             "url": reverse("admin:reminders_escalation_change", args=[escalation.pk])}
                            for escalation in road.escalations],
            "attempts": [{"when": moment_words(attempt.created_at, zone), "note": attempt.note,
                          "by": attempt.made_by.get_username() if attempt.made_by_id else "a former user"}
                         for attempt in road.attempts],
            "record_form": MilestoneRecordForm(instance=Milestone(patient=patient), auto_id="road_%s")
            if can_change else None,
            "record_url": reverse("admin:reminders_patient_milestone_record", args=[patient.pk]),
            "history_url": reverse("admin:reminders_patient_milestone_history", args=[patient.pk]),
            "attempt_url": reverse("admin:reminders_patient_contact_attempt", args=[patient.pk]),
        }}

    @staticmethod
    def _recorded_by(milestone: Milestone) -> str:
        if milestone.source == MilestoneSource.PATIENT_REPLY:
            return "the patient's reply"
        return milestone.recorded_by.get_username() if milestone.recorded_by_id else "a former user"

    # The pages of the road.

    def _road_patient(self, request, object_id: str, *, change: bool = True) -> Patient:
        patient = self.get_object_or_404(request, object_id)  # another clinic's patient is not found
        allowed = self.has_change_permission(request, patient) if change else self.has_view_permission(request, patient)
        if not allowed:
            raise PermissionDenied
        return patient

    @staticmethod
    def _road_milestone(patient: Patient, milestone_id: str) -> Milestone:
        if not ID.fullmatch(milestone_id):
            raise Http404(f"No milestone {quoted(milestone_id)}: milestones are numbered.")
        milestone = patient.milestones.select_related("recorded_by").filter(pk=milestone_id).first()
        if milestone is None:
            raise Http404(f"No milestone {milestone_id} of this patient.")
        if milestone.withdrawn_at is not None:
            raise Http404(f"Milestone {milestone_id} was withdrawn: record a new one instead.")
        return milestone

    @staticmethod
    def _patient_url(patient: Patient) -> str:
        return reverse("admin:reminders_patient_change", args=[patient.pk])

    def milestone_record_view(self, request, object_id):
        patient = self._road_patient(request, object_id)
        initial = {"next": safe_next(request, request.GET.get("next"))}
        if request.GET.get("kind") in MilestoneKind.values:
            initial["kind"] = request.GET["kind"]  # from the needs-action list: the kind that is missing
        form = MilestoneRecordForm(request.POST or None, instance=Milestone(patient=patient), initial=initial)

        def preview(data):
            return milestone_record_effects(patient=patient, kind=data["kind"], on=data["date"], at=data["time"],
                                            recorded_by=request.user)

        def apply(data):
            return milestone_record(patient=patient, kind=data["kind"], on=data["date"], at=data["time"],
                                    detail=data["detail"], recorded_by=request.user)

        def done(data):
            shown = Milestone(kind=data["kind"], date=data["date"], time=data["time"])
            return f"{shown.get_kind_display()} recorded for {milestone_when(shown, patient.zone)}"

        return preview_then_apply(
            self, request, form=form, log_obj=patient, title=f"Record a milestone for {patient}", zone=patient.zone,
            back_url=self._patient_url(patient), preview=preview, apply=apply, done=done, original=patient,
            action="record", confirm_label="Confirm and record")

    def milestone_correct_view(self, request, object_id, milestone_id):
        patient = self._road_patient(request, object_id)
        milestone = self._road_milestone(patient, milestone_id)
        form = MilestoneCorrectForm(request.POST or None, instance=copy.copy(milestone),
                                    initial={"next": safe_next(request, request.GET.get("next"))})
        moving = milestone.kind in APPOINTMENT_KINDS

        def preview(data):
            return milestone_correct_effects(milestone=milestone, on=data["date"], at=data.get("time"))

        def apply(data):
            return milestone_correct(milestone=milestone, on=data["date"], at=data.get("time"),
                                     detail=data["detail"], changed_by=request.user)

        def done(data):
            shown = Milestone(kind=milestone.kind, date=data["date"], time=data.get("time"))
            return f"{milestone.get_kind_display()} {'moved' if moving else 'corrected'} from " \
                   f"{milestone_when(milestone, patient.zone)} to {milestone_when(shown, patient.zone)}"

        verb = "Move" if moving else "Correct"
        return preview_then_apply(
            self, request, form=form, log_obj=patient, zone=patient.zone, back_url=self._patient_url(patient),
            title=f"{verb} {milestone.get_kind_display().lower()} of {patient}", preview=preview, apply=apply,
            done=done, original=patient, milestone=milestone, milestone_when=milestone_when(milestone, patient.zone),
            action="correct", confirm_label=f"Confirm and {verb.lower()}")

    def milestone_withdraw_view(self, request, object_id, milestone_id):
        patient = self._road_patient(request, object_id)
        milestone = self._road_milestone(patient, milestone_id)
        form = MilestoneWithdrawForm(request.POST or None,
                                     initial={"next": safe_next(request, request.GET.get("next"))})

        def preview(data):
            return milestone_withdraw_effects(milestone=milestone)

        def apply(data):
            return milestone_withdraw(milestone=milestone, reason=data["reason"], withdrawn_by=request.user)

        def done(data):
            return f"{milestone.get_kind_display()} of {milestone_when(milestone, patient.zone)} withdrawn"

        return preview_then_apply(
            self, request, form=form, log_obj=patient, zone=patient.zone, back_url=self._patient_url(patient),
            title=f"Withdraw {milestone.get_kind_display().lower()} of {patient}", preview=preview, apply=apply,
            done=done, original=patient, milestone=milestone, milestone_when=milestone_when(milestone, patient.zone),
            action="withdraw", confirm_label="Confirm and withdraw")

    def milestone_history_view(self, request, object_id):
        patient = self._road_patient(request, object_id, change=False)
        zone = patient.zone
        what = {"+": "recorded", "~": "changed", "-": "deleted"}
        rows = [{
            "when": moment_words(version.history_date, zone),
            "who": version.history_user.get_username() if version.history_user_id else "-",
            "what": version.history_change_reason or what.get(version.history_type, version.history_type),
            "kind": MilestoneKind(version.kind).label if version.kind in MilestoneKind.values else version.kind,
            "milestone": version.id, "date": milestone_when(version, zone), "detail": version.detail,
            "withdrawal_reason": version.withdrawal_reason,
        } for version in patient_milestone_history(patient=patient)]
        return admin_page(request, model_admin=self, template="admin/reminders/patient/milestone_history.html",
                          title=f"Milestones of {patient}: history", original=patient, rows=rows, zone=zone)

    def contact_attempt_view(self, request, object_id):
        """Note a call to the patient (or an attempt): from the needs-action list or the patient's page."""
        patient = self._road_patient(request, object_id)
        form = ContactAttemptForm(request.POST or None,
                                  initial={"next": safe_next(request, request.GET.get("next"))})
        if request.method == "POST" and form.is_valid():
            try:
                contact_attempt_record(patient=patient, note=form.cleaned_data["note"], made_by=request.user)
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                self.log_change(request, patient, "Call attempt noted.")
                self.message_user(request, f"Call attempt noted for {patient}.", messages.SUCCESS)
                return redirect(safe_next(request, form.cleaned_data["next"]) or self._patient_url(patient))
        road = patient_road(patient=patient, replies=0, attempts=10)
        response = admin_page(
            request, model_admin=self, template="admin/reminders/patient/contact_attempt.html",
            title=f"Note a call attempt to {patient}", original=patient, form=form,
            phone=phone_link(patient.mobile), back_url=self._patient_url(patient),
            attempts=[{"when": moment_words(a.created_at, patient.zone), "note": a.note,
                       "by": a.made_by.get_username() if a.made_by_id else "a former user"} for a in road.attempts])
        if form.errors:
            response.status_code = 400
        return response
