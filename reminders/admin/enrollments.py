"""Enrollments: their timeline, pause/resume/cancel with a reason, anchor date
corrections, and bulk enrollment from CSV."""

from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from ..models import SENT_STATUSES, Enrollment, EnrollmentStatus, Message, MessageStatus, StepMute
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.enrollments import AnchorChange, enrollment_anchor_change_preview
from ..selectors.programs import program_preview
from ..services.csv_import import CSV_COLUMNS, csv_template, enrollment_csv_import
from ..services.enrollment_anchor import enrollment_change_anchor
from ..services.enrollments import (
    enrollment_cancel,
    enrollment_create,
    enrollment_pause,
    enrollment_resume,
    enrollment_validate,
)
from .display import admin_page, local_time, send_fate
from .forms import AnchorChangeForm, CsvUploadForm, StatusChangeForm, errors_to_form
from .milestones import appointment_words
from .scoping import CsvExportMixin, ScopedHistoryAdmin, clinic_list_filter
from .step_mutes import StepMuteAdminMixin

STATUS_SERVICES = {"pause": enrollment_pause, "resume": enrollment_resume, "cancel": enrollment_cancel}
STATUS_WORDS = {"pause": ("Pause", "paused"), "resume": ("Resume", "resumed"), "cancel": ("Cancel", "cancelled")}
STATUS_HELP = {
    "pause": "Pausing holds every pending message until the enrollment is resumed.",
    "resume": "Resuming releases the held messages; any now too late are skipped by their late policy.",
    "cancel": "Cancelling stops every message not yet sent. It cannot be undone.",
}


def timeline_row(row, message: Message | None) -> dict:
    """A rendered timeline row with the status of the message it became, in words."""
    return {**vars(row), "title": row.title, "asks_label": row.asks_label,
            "status_label": message.get_status_display() if message else "not planned",
            "status_reason": message.reason if message else ""}


class MessageInline(admin.TabularInline):
    """The enrollment's timeline: each message with its step, the appointment a reminder is about, its
    time in the patient's zone, what became of it in words, and the step's mute for this patient."""

    model = Message
    fields = ["step", "appointment", "channel", "send_time_local", "status_words", "sent_at_local"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    # In the order of the planned times (an appointment's reminders among the program's days),
    # not of the send times quiet hours moved.
    ordering = ["scheduled_at", "step__key", "channel"]

    def get_queryset(self, request):
        muted = StepMute.objects.filter(enrollment=OuterRef("enrollment_id"), step=OuterRef("step_id"),
                                        unmuted_at__isnull=True)
        return (super().get_queryset(request).select_related("step", "milestone", "enrollment__patient__clinic")
                .annotate(muted_reason=Subquery(muted.values("reason")[:1])))

    def get_fields(self, request, obj=None):
        # Muting is offered on an open enrollment, to who may change it.
        if obj is not None and obj.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED) \
                and self.parent_model_admin(request).has_change_permission(request, obj):
            return [*self.fields, "mute"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def parent_model_admin(self, request):
        return self.admin_site.get_model_admin(Enrollment)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Appointment")
    def appointment(self, obj: Message) -> str:
        return appointment_words(obj.milestone) or "-"

    @admin.display(description="Send time (patient's zone)")
    def send_time_local(self, obj: Message) -> str:
        return local_time(obj.due_at, obj.enrollment.patient.zone)

    @admin.display(description="Status")
    def status_words(self, obj: Message):
        if not obj.reason:
            return obj.get_status_display()
        return format_html('{}<br><span class="followup-note message-reason">{}</span>', obj.get_status_display(),
                           obj.reason)

    @admin.display(description="Sent (patient's zone)")
    def sent_at_local(self, obj: Message) -> str:
        return local_time(obj.sent_at, obj.enrollment.patient.zone)

    @admin.display(description="Mute for this patient")
    def mute(self, obj: Message):
        args = [obj.enrollment_id, obj.step_id]
        if obj.muted_reason is not None:
            return format_html(
                '<span class="followup-note">muted: {}</span> <a href="{}" class="step-unmute">Unmute…</a>',
                obj.muted_reason, reverse("admin:reminders_enrollment_step_unmute", args=args))
        return format_html('<a href="{}" class="step-mute">Mute this step…</a>',
                           reverse("admin:reminders_enrollment_step_mute", args=args))


class EnrollmentAddForm(forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = ["patient", "program", "anchor_event", "anchor_date"]

    def clean(self):
        cleaned = super().clean()
        names = ["patient", "program", "anchor_event", "anchor_date"]
        if not self.errors and all(cleaned.get(name) for name in names):
            try:
                enrollment_validate(**{name: cleaned[name] for name in names})
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Enrollment)
class EnrollmentAdmin(StepMuteAdminMixin, CsvExportMixin, ScopedHistoryAdmin):
    list_display = ["patient", "clinic", "program", "anchor_event", "anchor_date", "status", "progress"]
    list_filter = ["status", "program", "anchor_event", clinic_list_filter("patient__clinic")]
    search_fields = ["patient__last_name__unaccent", "patient__first_name__unaccent", "patient__mrn"]
    patient_search_path = "patient__"
    autocomplete_fields = ["patient"]
    date_hierarchy = "anchor_date"
    inlines = [MessageInline]
    actions = ["pause_enrollments", "resume_enrollments", "cancel_enrollments", "export_csv"]
    history_list_display = ["anchor_date", "status", "status_reason"]
    readonly_fields = ["patient", "program", "anchor_event", "anchor_date", "status",
                       "status_reason", "enrolled_by", "created_at", "timeline_link"]
    fieldsets = [
        (None, {"fields": ["patient", "program", ("anchor_event", "anchor_date"), "timeline_link"]}),
        ("State", {"fields": ["status", "status_reason", "enrolled_by", "created_at"]}),
    ]
    export_columns = [
        ("id", lambda e: e.pk), ("patient_id", lambda e: e.patient_id), ("patient", lambda e: str(e.patient)),
        ("clinic", lambda e: e.patient.clinic.name), ("program", lambda e: e.program.slug),
        ("anchor_event", lambda e: e.anchor_event), ("anchor_date", lambda e: e.anchor_date.isoformat()),
        ("status", lambda e: e.status), ("status_reason", lambda e: e.status_reason),
        ("created_at", lambda e: e.created_at.isoformat()),
    ]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("patient__clinic", "program")
            .annotate(
                message_total=Count("messages"),
                message_done=Count("messages", filter=Q(messages__status__in=SENT_STATUSES)),
            )
        )

    def get_export_queryset(self, queryset):
        # The export needs no counts; plain rows stream faster.
        return Enrollment.objects.filter(pk__in=queryset.values("pk")).select_related("patient__clinic", "program")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EnrollmentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["patient", "program", ("anchor_event", "anchor_date")],
                            "description": "Saving plans every message of the program for this patient. "
                                           "To enroll someone new, use “Enroll a new patient” on the patients page."})]
        return self.fieldsets

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            # Every field is read-only once enrolled: changes go through the page's own buttons.
            extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                             "show_save_and_add_another": False, "show_delete": False}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return  # every field is read-only once enrolled
        enrollment = enrollment_create(
            patient=obj.patient, program=obj.program, anchor_event=obj.anchor_event,
            anchor_date=obj.anchor_date, enrolled_by=request.user,
        )
        # The admin goes on with the object it handed us (for its log and redirect).
        obj.pk, obj.created_at, obj.enrolled_by = enrollment.pk, enrollment.created_at, request.user
        obj._state.adding = False

    @admin.display(description="Clinic", ordering="patient__clinic__name")
    def clinic(self, obj: Enrollment):
        return obj.patient.clinic

    @admin.display(description="Sent")
    def progress(self, obj: Enrollment) -> str:
        return f"{obj.message_done} of {obj.message_total}"

    @admin.display(description="Messages")
    def timeline_link(self, obj: Enrollment) -> str:
        url = reverse("admin:reminders_enrollment_timeline", args=[obj.pk])
        return format_html('<a href="{}">This patient&#x27;s timeline, as they read it</a>', url)

    def timeline_view(self, request, object_id: str):
        """The patient's own messages, rendered in their language, dated in their zone."""
        enrollment = self.get_object(request, object_id)
        if enrollment is None or not self.has_view_permission(request, enrollment):
            raise PermissionDenied
        patient = enrollment.patient
        first_sms = (enrollment.messages.filter(channel="sms").exclude(status__in=[
            MessageStatus.SKIPPED, MessageStatus.CANCELLED]).order_by("scheduled_at")
            .values_list("step__key", flat=True).first())
        preview = partial(program_preview, program=enrollment.program, language=patient.language, patient=patient,
                          anchor_date=enrollment.anchor_date, first_sms_step=first_sms)
        messages = list(enrollment.messages.select_related("step", "milestone"))
        # The program's days, one row per step and channel...
        by_step = {(m.step.key, m.channel): m for m in messages if m.milestone_id is None}
        rows = [timeline_row(row, by_step.get((row.step, row.channel))) for row in preview(
            steps=list(enrollment.program.steps.filter(messages__enrollment=enrollment, relative_to="").distinct()))]
        # ...and each appointment's reminders, rendered for that appointment.
        for message in (m for m in messages if m.milestone_id is not None):
            rows += [timeline_row(row, message) for row in preview(
                steps=[message.step], appointments={message.step.relative_to: message.milestone})
                if row.channel == message.channel]
        rows.sort(key=lambda row: (row["send_at"] is None, row["send_at"] or 0, row["step"], row["channel"]))
        return admin_page(
            request, model_admin=self, template="admin/reminders/enrollment/timeline.html",
            title=f"Timeline of {patient}", original=enrollment, rows=rows, patient=patient, with_status=True,
        )

    # Pause, resume, cancel: from the list (several) or the enrollment's page (one).

    def get_urls(self):
        app, model = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("import-csv/", view(self.import_csv_view), name=f"{app}_{model}_import_csv"),
            path("import-csv/template.csv", view(self.csv_template_view), name=f"{app}_{model}_csv_template"),
            path("<path:object_id>/anchor-date/", view(self.anchor_change_view), name=f"{app}_{model}_anchor"),
            path("<path:object_id>/timeline/", view(self.timeline_view), name=f"{app}_{model}_timeline"),
            *[path(f"<path:object_id>/{action}/", view(self.status_change_view), {"action": action},
                   name=f"{app}_{model}_{action}") for action in STATUS_SERVICES],
            *super().get_urls(),
        ]

    def _status_change(self, request, queryset, action: str, *, selected: list[str] | None = None,
                       original: Enrollment | None = None):
        """The reason form, then the service for each enrollment. None once done."""
        form = StatusChangeForm(request.POST if "apply" in request.POST else None, action=action)
        if form.is_bound and form.is_valid():
            reason, done, refused = form.reason_text(), 0, []
            for enrollment in queryset:
                try:
                    STATUS_SERVICES[action](enrollment=enrollment, reason=reason)
                except ValidationError as exc:
                    refused.append(f"{enrollment}: {' '.join(exc.messages)}")
                    continue
                self.log_change(request, enrollment, f"{STATUS_WORDS[action][1].capitalize()}: {reason}")
                done += 1
            if done:
                self.message_user(request, ngettext("{done} {n} enrollment ({reason}).",
                                                        "{done} {n} enrollments ({reason}).", done).format(
                    done=STATUS_WORDS[action][1].capitalize(), n=done, reason=reason), messages.SUCCESS)
            for message in refused:
                self.message_user(request, f"Not {STATUS_WORDS[action][1]}: {message}", messages.ERROR)
            return None
        enrollments = list(queryset)
        return admin_page(
            request, model_admin=self, template="admin/reminders/enrollment/status_change.html",
            title=ngettext("{verb} {n} enrollment", "{verb} {n} enrollments", len(enrollments)).format(
                verb=STATUS_WORDS[action][0], n=len(enrollments)),
            form=form, enrollments=enrollments, action=action, action_name=f"{action}_enrollments",
            selected=selected or [], help=STATUS_HELP[action], verb=STATUS_WORDS[action][0],
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME, original=original,
        )

    @admin.action(description="Pause selected enrollments…", permissions=["change"])
    def pause_enrollments(self, request, queryset):
        return self._status_change(request, queryset, "pause",
                                   selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))

    @admin.action(description="Resume selected enrollments…", permissions=["change"])
    def resume_enrollments(self, request, queryset):
        return self._status_change(request, queryset, "resume",
                                   selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))

    @admin.action(description="Cancel selected enrollments…", permissions=["change"])
    def cancel_enrollments(self, request, queryset):
        return self._status_change(request, queryset, "cancel",
                                   selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))

    def status_change_view(self, request, object_id, action):
        enrollment = self.get_object_or_404(request, object_id)
        if not self.has_change_permission(request, enrollment):
            raise PermissionDenied
        response = self._status_change(
            request, self.get_queryset(request).filter(pk=enrollment.pk), action, original=enrollment)
        return response or redirect(reverse("admin:reminders_enrollment_change", args=[enrollment.pk]))

    def anchor_change_view(self, request, object_id):
        """Preview what a corrected anchor date moves, then apply it in one step."""
        enrollment = self.get_object_or_404(request, object_id)
        if not self.has_change_permission(request, enrollment):
            raise PermissionDenied
        form = AnchorChangeForm(request.POST or None, initial={"anchor_date": enrollment.anchor_date})
        preview = None
        if request.method == "POST" and form.is_valid():
            anchor_date = form.cleaned_data["anchor_date"]
            try:
                if form.cleaned_data["confirmed"]:
                    applied = enrollment_change_anchor(
                        enrollment=enrollment, anchor_date=anchor_date, changed_by=request.user)
                    self.log_change(request, enrollment, f"Anchor date corrected from "
                                    f"{applied.old_anchor_date:%Y-%m-%d} to {anchor_date:%Y-%m-%d}.")
                    self.message_user(
                        request, f"Anchor date corrected to {anchor_date:%Y-%m-%d}: "
                                 f"{applied.count(AnchorChange.MOVES)} messages moved, "
                                 f"{applied.count(AnchorChange.SKIPPED)} skipped as too late.", messages.SUCCESS)
                    return redirect(reverse("admin:reminders_enrollment_change", args=[enrollment.pk]))
                preview = enrollment_anchor_change_preview(enrollment=enrollment, anchor_date=anchor_date)
            except ValidationError as exc:
                errors_to_form(form, exc)
        rows = []
        if preview:
            zone = preview.zone
            labels = {AnchorChange.MOVES: "moves", AnchorChange.SENT: "already sent: unchanged",
                      AnchorChange.UNCHANGED: "unchanged"}
            for row in preview.rows:
                message = row.message
                if row.change == AnchorChange.SKIPPED or row.sends_late:
                    label = send_fate(skipped=row.change == AnchorChange.SKIPPED, sends_late=row.sends_late,
                                      max_lateness=message.step.max_lateness).lower()
                else:
                    label = labels[row.change]
                rows.append({
                    "step": str(message.step),
                    "channel": message.get_channel_display(), "status": message.get_status_display(),
                    "old": local_time(message.due_at, zone), "new": local_time(row.new_due_at, zone),
                    "change": row.change.value, "label": label, "late": row.sends_late,
                    "reason": row.reason if row.change in (AnchorChange.UNCHANGED, AnchorChange.SKIPPED) else "",
                })
        return admin_page(
            request, model_admin=self, template="admin/reminders/enrollment/anchor_change.html",
            title=f"Correct the anchor date of {enrollment}", original=enrollment, form=form,
            preview=preview, rows=rows,
            counts={change.value: preview.count(change) for change in AnchorChange} if preview else {},
            late=sum(1 for row in preview.rows if row.sends_late) if preview else 0,
        )

    def import_csv_view(self, request):
        """Upload a CSV: every row is checked, then all are enrolled in one go, or none."""
        if not (request.user.has_perm("reminders.add_patient") and self.has_add_permission(request)):
            raise PermissionDenied
        form = CsvUploadForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and (data := form.csv_bytes()) is not None:
            result = enrollment_csv_import(data=data, clinics=clinics_for_user(user=request.user),
                                           imported_by=request.user)
            if result.ok:
                LogEntry.objects.log_actions(
                    user_id=request.user.pk, queryset=result.enrolled, action_flag=ADDITION,
                    change_message="Enrolled from a CSV file.")
                self.message_user(request, f"Enrolled {len(result.enrolled)} patients from the CSV file.",
                                  messages.SUCCESS)
                return redirect(reverse("admin:reminders_enrollment_changelist"))
        return admin_page(
            request, model_admin=self, template="admin/reminders/enrollment/import_csv.html",
            title="Enroll patients from a CSV file", form=form, result=result, columns=CSV_COLUMNS,
            max_kb=settings.CSV_IMPORT_MAX_BYTES // 1024, max_rows=settings.CSV_IMPORT_MAX_ROWS,
        )

    def csv_template_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        response = HttpResponse(csv_template(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="enrollment-template.csv"'
        return response
