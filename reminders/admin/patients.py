"""Clinics, coordinators, patients and consent; enrolling someone new on one page."""

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from ..models import Channel, Clinic, ConsentEvent, Coordinator, Enrollment, Patient
from ..selectors.clinic_scoping import clinics_for_user
from ..services.enrollment_intake import enrollment_intake_create
from ..services.patients import patient_save
from ..services.privacy import patient_forget
from ..services.sms_test import sms_test_patient_problem, sms_test_render, sms_test_send_to_patient
from .display import admin_page, local_time, mobile_ending, send_fate
from .forms import PatientEnrollmentForm, TimeZoneModelForm, time_zone_form_field
from .milestones import PatientRoadAdminMixin
from .scoping import ClinicScopedAdminMixin, CsvExportMixin, ScopedHistoryAdmin, clinic_list_filter


class TimeZoneAdminMixin:
    """The time zone is picked from a list of places (reminders/time_zones.py), never typed."""

    form = TimeZoneModelForm

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "time_zone":
            return time_zone_form_field(db_field)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Clinic)
class ClinicAdmin(TimeZoneAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "phone", "time_zone", "quiet_hours_start", "quiet_hours_end",
                    "consultation_target_days"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "phone", "email", "alert_email"]}),
        ("Time", {"fields": ["time_zone", ("quiet_hours_start", "quiet_hours_end")],
                  "description": "No SMS goes out during quiet hours; it waits for their end."}),
        ("Texting", {"fields": ["sms_sender", "sms_sender_kind", "sms_segments_per_second"],
                     "description": "The clinic's own sender, if it has one; replies to it come to this clinic. "
                                    "Set up by the service's administrators."}),
        ("Clinical settings", {
            "fields": ["emergency_number", "after_hours_phone", "lifting_limit", "driving_advice",
                       "consultation_target_days", "address"],
            "description": "Quoted in the messages; signed off by the clinic's physician."}),
    ]


    def get_readonly_fields(self, request, obj=None):
        # The sender is the provider account's: a wrong one stops every text of the clinic.
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["sms_sender", "sms_sender_kind", "sms_segments_per_second"]
        return readonly


@admin.register(Coordinator)
class CoordinatorAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["user", "clinic", "mobile_on_file"]
    list_filter = [clinic_list_filter("clinic")]
    search_fields = ["user__username", "user__last_name"]
    list_select_related = ["user", "clinic"]
    autocomplete_fields = ["clinic"]
    fieldsets = [(None, {"fields": ["user", "clinic", "mobile"],
                         "description": "A staff user sees only the clinics they coordinate for."})]

    @admin.display(description="Mobile")
    def mobile_on_file(self, obj: Coordinator) -> str:
        return mobile_ending(obj.mobile)


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fields = ["program", "anchor_event", "anchor_date", "status", "status_reason", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # enrolling plans messages: it goes through the enrollment pages

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program", "patient")


# The enroll page's sections.
ENROLL_FIELDSETS = [
    ("Patient", {"fields": ["clinic", "first_name", "last_name", "mrn", "date_of_birth", "time_zone", "language"]}),
    ("Contact and consent", {"fields": ["mobile", "email", "sms_consent", "email_consent", "discreet"],
                             "description": "Tick a channel only if the patient agreed to it."}),
    ("Program", {"fields": ["program", "anchor_event", "anchor_date"]}),
]


@admin.register(Patient)
class PatientAdmin(PatientRoadAdminMixin, TimeZoneAdminMixin, CsvExportMixin, ScopedHistoryAdmin):
    list_display = ["__str__", "clinic", "mobile", "email", "language", "reached_by"]
    list_filter = [clinic_list_filter("clinic"), "language", "sms_consent", "email_consent"]
    # Names without regard to accents ("garcia" finds García), on PostgreSQL and SQLite alike;
    # a number in any format finds the mobile (patient_search_path).
    search_fields = ["last_name__unaccent", "first_name__unaccent", "mobile", "email", "mrn"]
    patient_search_path = ""
    list_select_related = ["clinic"]
    inlines = [EnrollmentInline]
    actions = ["export_csv", "forget_patients"]

    # Forgetting cannot be undone, so it takes the right to delete (coordinators have none).
    @admin.action(description="Forget selected patients (anonymize, keep the counts)…", permissions=["delete"])
    def forget_patients(self, request, queryset):
        forgotten, refused = 0, []
        for patient in queryset:
            try:
                patient_forget(patient=patient, forgotten_by=request.user)
            except ValidationError as exc:
                refused.append(f"patient {patient.pk}: {' '.join(exc.messages)}")
                continue
            self.log_change(request, patient, "Forgotten: anonymized, counts kept")
            forgotten += 1
        if forgotten:
            self.message_user(request, ngettext("Forgot {n} patient.", "Forgot {n} patients.",
                                                forgotten).format(n=forgotten), messages.SUCCESS)
        for message in refused:
            self.message_user(request, f"Not forgotten, try again in a minute: {message}", messages.ERROR)

    def has_change_permission(self, request, obj=None) -> bool:
        # A forgotten patient stays as it is: saving would fail in patient_save anyway.
        if obj is not None and obj.forgotten_at:
            return False
        return super().has_change_permission(request, obj)
    history_list_display = ["sms_consent", "email_consent"]
    fieldsets = [
        (None, {"fields": ["clinic", ("first_name", "last_name"), ("mrn", "date_of_birth")]}),
        ("Contact and consent", {"fields": ["mobile", "email", ("sms_consent", "email_consent"), "discreet"]}),
        ("Locale", {"fields": ["time_zone", "language"]}),
    ]
    # Shown on a patient's page, below the editable fields.
    consent_fieldset = ("Consent history (the ledger)", {"fields": ["consent_ledger"], "classes": ["collapse"]})
    export_columns = [
        ("id", lambda p: p.pk), ("clinic", lambda p: p.clinic.name), ("first_name", lambda p: p.first_name),
        ("last_name", lambda p: p.last_name), ("mrn", lambda p: p.mrn),
        ("date_of_birth", lambda p: p.date_of_birth.isoformat() if p.date_of_birth else ""),
        ("mobile", lambda p: p.mobile), ("email", lambda p: p.email),
        ("sms_consent", lambda p: p.sms_consent), ("email_consent", lambda p: p.email_consent),
        ("language", lambda p: p.language), ("time_zone", lambda p: p.time_zone),
        ("created_at", lambda p: p.created_at.isoformat()),
    ]

    def get_export_queryset(self, queryset):
        return queryset.select_related("clinic")

    def get_fieldsets(self, request, obj=None):
        return [*self.fieldsets, self.consent_fieldset] if obj else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ["consent_ledger"] if obj else []

    def save_model(self, request, obj, form, change):
        patient_save(patient=obj, recorded_by=request.user)

    @admin.display(description="Changes")
    def consent_ledger(self, obj: Patient):
        events = obj.consent_events.select_related("recorded_by")[:100]
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((local_time(e.created_at, obj.zone), e.get_channel_display(), "given" if e.given else "withdrawn",
              e.get_actor_display(), e.source, e.recorded_by or "-") for e in events),
        )
        if not rows:
            return "No consent recorded."
        return format_html(
            '<table id="consent-ledger"><thead><tr><th>When</th><th>Channel</th><th>Consent</th><th>Through</th>'
            "<th>Source</th><th>Recorded by</th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.display(description="Reached by")
    def reached_by(self, obj: Patient) -> str:
        return ", ".join(str(c.label) for c in obj.channels()) or "nobody: no channel"

    def get_urls(self):
        app, model = self.opts.app_label, self.opts.model_name
        return [
            path("enroll/", self.admin_site.admin_view(self.enroll_view), name=f"{app}_{model}_enroll"),
            path("<path:object_id>/test-sms/", self.admin_site.admin_view(self.sms_test_view),
                 name=f"{app}_{model}_sms_test"),
            *super().get_urls(),
        ]

    def enroll_view(self, request):
        """Patient details, consent, program and anchor; a preview of the timeline; then enroll."""
        if not (self.has_add_permission(request) and request.user.has_perm("reminders.add_enrollment")):
            raise PermissionDenied
        clinics = clinics_for_user(user=request.user)
        form = PatientEnrollmentForm(request.POST or None, clinics=clinics)
        check, digest = None, ""
        if request.method == "POST" and form.is_valid():
            check, digest = form.check, form.digest()
            if "_enroll" in request.POST and form.matches_preview():
                if check.matches and not form.cleaned_data["different_person"]:
                    form.add_error("different_person", "The patient shown above has the same mobile or contact: "
                                                       "tick this box if this is a different person, or enroll "
                                                       "the patient on file from their page.")
                else:
                    return self._enroll(request, form)
            elif "_enroll" in request.POST:
                self.message_user(request, "The details changed since the preview: check the timeline "
                                           "below, then enroll.", messages.WARNING)
        adminform = admin.helpers.AdminForm(form, ENROLL_FIELDSETS, {})
        response = admin_page(
            request, model_admin=self, template="admin/reminders/patient/enroll.html",
            title="Enroll a new patient", adminform=adminform, form=form, check=check,
            timeline=self._enroll_timeline(check), digest=digest, zone=check.patient.zone if check else None,
            skipped=len(check.skipped) if check else 0,
            late=sum(1 for planned in check.timeline if planned.sends_late) if check else 0,
            matches=self._enroll_matches(check),
        )
        if form.errors:
            response.status_code = 400  # shown again with the reasons on the fields
        return response

    @staticmethod
    def _enroll_timeline(check) -> list[dict]:
        """The preview's rows: each planned message in the patient's zone, and what will become of it."""
        if not check:
            return []
        zone, rows = check.patient.zone, []
        for planned in check.timeline:
            moved = planned.due_at != planned.scheduled_at
            rows.append({
                "day": planned.step.offset_days, "topic": planned.step.title,
                "channel": Channel(planned.channel).label,
                "send_at": local_time(planned.due_at, zone),
                "note": f"moved out of quiet hours from {local_time(planned.scheduled_at, zone)}" if moved else "",
                "skipped": bool(planned.reason), "late": planned.sends_late,
                "fate": send_fate(skipped=bool(planned.reason), sends_late=planned.sends_late,
                                  max_lateness=planned.step.max_lateness),
                "reason": planned.reason,
            })
        return rows

    @staticmethod
    def _enroll_matches(check) -> list[dict]:
        """Patients already on file that the details match, each with a link to their page."""
        if not check:
            return []
        return [{"url": reverse("admin:reminders_patient_change", args=[match.patient.pk]),
                 "patient": match.patient, "id": match.patient.pk, "kind": match.kind.value,
                 "mobile": mobile_ending(match.patient.mobile)} for match in check.matches]

    def _enroll(self, request, form):
        try:
            enrollment = enrollment_intake_create(
                intake=form.intake(), enrolled_by=request.user,
                different_person_confirmed=form.cleaned_data["different_person"])
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(reverse("admin:reminders_patient_enroll"))
        LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=[enrollment.patient, enrollment], action_flag=ADDITION,
            change_message="Enrolled on the enrollment page.",
        )
        self.message_user(request, f"Enrolled {enrollment.patient} in {enrollment.program}: "
                                   f"{enrollment.messages.count()} messages planned.", messages.SUCCESS)
        return redirect(reverse("admin:reminders_enrollment_change", args=[enrollment.pk]))

    def sms_test_view(self, request, object_id):
        patient = self.get_object_or_404(request, object_id)
        if not self.has_change_permission(request, patient):
            raise PermissionDenied
        change_url = reverse("admin:reminders_patient_change", args=[patient.pk])
        if request.method == "POST":
            try:
                sms_test_send_to_patient(patient=patient, sent_by=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"Test SMS sent to the patient's mobile ({mobile_ending(patient.mobile)}).",
                                  messages.SUCCESS)
            return redirect(change_url)
        return admin_page(
            request, model_admin=self, template="admin/reminders/sms_test.html",
            title=f"Send a test SMS to {patient}", original=patient, cancel_url=change_url,
            recipient=f"{patient} ({mobile_ending(patient.mobile)})",
            body=sms_test_render(clinic=patient.clinic, language=patient.language),
            problem=" ".join(problem.messages) if (problem := sms_test_patient_problem(patient=patient)) else "",
        )


@admin.register(ConsentEvent)
class ConsentEventAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    """The consent ledger across patients: who gave or withdrew which channel, when, and through what."""

    list_display = ["created_at", "patient", "channel", "given", "actor", "source", "recorded_by"]
    list_filter = [clinic_list_filter("patient__clinic"), "channel", "given", "actor"]
    search_fields = ["patient__last_name__unaccent", "patient__first_name__unaccent"]
    patient_search_path = "patient__"
    list_select_related = ["patient", "recorded_by"]
    date_hierarchy = "created_at"
    readonly_fields = ["patient", "channel", "given", "actor", "source", "recorded_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # append-only, written by the consent service

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
