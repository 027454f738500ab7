"""The coordinators' admin: thin, it reads through querysets and writes through services."""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.html import format_html

from .models import (
    Clinic,
    Enrollment,
    Escalation,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
    Program,
    Step,
)
from .services.enrollments import enrollment_create, enrollment_validate
from .services.patients import patient_save


def local_time(moment, zone) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "time_zone", "quiet_hours_start", "quiet_hours_end"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "phone", "email"]}),
        ("Time", {"fields": ["time_zone", ("quiet_hours_start", "quiet_hours_end")],
                  "description": "No SMS goes out during quiet hours; it waits for their end."}),
    ]


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    fields = ["program", "anchor_event", "anchor_date", "status", "status_reason", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # enrolling plans messages: it goes through the enrollment page


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "clinic", "mobile", "email", "language", "reached_by"]
    list_filter = ["clinic", "language", "sms_consent", "email_consent"]
    search_fields = ["last_name", "first_name", "mobile", "email"]
    list_select_related = ["clinic"]
    inlines = [EnrollmentInline]
    fieldsets = [
        (None, {"fields": ["clinic", ("first_name", "last_name")]}),
        ("Contact and consent", {"fields": ["mobile", "email", ("sms_consent", "email_consent"), "discreet"]}),
        ("Locale", {"fields": ["time_zone", "language"]}),
    ]

    def save_model(self, request, obj, form, change):
        patient_save(patient=obj, recorded_by=request.user)

    @admin.display(description="Reached by")
    def reached_by(self, obj: Patient) -> str:
        return ", ".join(str(c.label) for c in obj.channels()) or "nobody: no channel"


class StepInline(admin.TabularInline):
    model = Step
    fields = ["key", "offset_days", "send_time", "channel", "topic", "template", "max_lateness"]
    extra = 0
    ordering = ["offset_days", "send_time"]


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "version", "step_count", "is_active"]
    readonly_fields = ["version", "updated_at"]
    inlines = [StepInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "description", "is_active"]}),
        ("Version", {"fields": ["version", "updated_at"],
                     "description": "Loaded from reminders/programs/; a changed file raises the version."}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, obj: Program) -> int:
        return obj.step_total


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["step", "channel", "send_time_local", "status", "reason", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["due_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("step", "enrollment__patient__clinic")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Send time (patient's zone)")
    def send_time_local(self, obj: Message) -> str:
        return local_time(obj.due_at, obj.enrollment.patient.zone)


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
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["patient", "clinic", "program", "anchor_event", "anchor_date", "status", "progress"]
    list_filter = ["status", "program", "anchor_event", "patient__clinic"]
    search_fields = ["patient__last_name", "patient__first_name"]
    autocomplete_fields = ["patient"]
    date_hierarchy = "anchor_date"
    inlines = [MessageInline]
    readonly_fields = ["patient", "program", "anchor_event", "anchor_date", "status",
                       "status_reason", "enrolled_by", "created_at"]
    fieldsets = [
        (None, {"fields": ["patient", "program", ("anchor_event", "anchor_date")]}),
        ("State", {"fields": ["status", "status_reason", "enrolled_by", "created_at"]}),
    ]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("patient__clinic", "program")
            .annotate(
                message_total=Count("messages"),
                message_done=Count("messages", filter=Q(messages__status__in=[
                    MessageStatus.SENT, MessageStatus.DELIVERED])),
            )
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = EnrollmentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["patient", "program", ("anchor_event", "anchor_date")],
                            "description": "Saving plans every message of the program for this patient."})]
        return self.fieldsets

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


class DueDateFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue (pending, past due)"), ("next24h", "In the next 24 hours")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(status=MessageStatus.PENDING, due_at__lt=now)
        if self.value() == "next24h":
            return queryset.filter(due_at__gte=now, due_at__lt=now + timedelta(hours=24))
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "patient", "clinic", "step_label", "channel", "due_local", "status_badge", "reason"]
    list_filter = ["status", "channel", "enrollment__patient__clinic", DueDateFilter]
    date_hierarchy = "due_at"
    search_fields = ["enrollment__patient__last_name", "provider_message_id"]
    list_select_related = ["enrollment__patient__clinic", "step"]
    show_full_result_count = False
    readonly_fields = ["enrollment", "step", "channel", "scheduled_at", "due_at", "due_local", "status",
                       "reason", "attempts", "lease_expires_at", "sent_at", "provider_message_id",
                       "subject", "body", "updated_at"]
    fieldsets = [
        (None, {"fields": ["enrollment", "step", "channel"]}),
        ("Schedule", {"fields": ["due_local", "scheduled_at", "due_at"]}),
        ("Outcome", {"fields": ["status", "reason", "attempts", "sent_at", "provider_message_id",
                                "lease_expires_at", "updated_at"]}),
        ("Content as sent", {"fields": ["subject", "body"], "classes": ["collapse"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # messages are planned by enrolling

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Patient", ordering="enrollment__patient__last_name")
    def patient(self, obj: Message):
        return obj.enrollment.patient

    @admin.display(description="Clinic")
    def clinic(self, obj: Message):
        return obj.enrollment.patient.clinic

    @admin.display(description="Step")
    def step_label(self, obj: Message) -> str:
        return f"day {obj.step.offset_days}: {obj.step.get_topic_display()}"

    @admin.display(description="Due (patient's zone)", ordering="due_at")
    def due_local(self, obj: Message) -> str:
        return local_time(obj.due_at, obj.enrollment.patient.zone)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Message):
        colour = {"sent": "#1a7f37", "delivered": "#1a7f37", "failed": "#cf222e",
                  "skipped": "#9a6700", "cancelled": "#57606a"}.get(obj.status, "#0969da")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "patient", "clinic", "kind", "body"]
    list_filter = ["kind", "clinic"]
    list_select_related = ["patient", "clinic"]
    readonly_fields = ["provider_message_id", "from_number", "to_number", "body", "kind", "clinic",
                       "patient", "enrollment", "in_reply_to", "received_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "urgency", "kind", "patient", "clinic", "summary", "acknowledged_at"]
    list_filter = ["urgency", "kind", "clinic", ("acknowledged_at", admin.EmptyFieldListFilter)]
    list_select_related = ["patient", "clinic"]
    readonly_fields = ["clinic", "patient", "enrollment", "inbound", "kind", "urgency", "summary",
                       "created_at", "acknowledged_at", "acknowledged_by"]

    def has_add_permission(self, request) -> bool:
        return False
