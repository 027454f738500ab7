"""Programs (shared by all clinics) and the messages planned for patients."""

from datetime import timedelta

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from ..backends.sms import twilio_errors
from ..models import Language, Message, MessageStatus, Program, Step
from ..selectors.access import clinics_for_user
from ..selectors.programs import program_preview
from ..refusals import quoted
from .display import admin_page, local_time
from .guards import RefusalsAdminMixin
from .scoping import ClinicScopedAdminMixin, CsvExportMixin, clinic_list_filter


# Programs and their steps come from reminders/programs/*.toml (`load_programs`): an
# edit here would never reach the file, and a reload of an unchanged file keeps it
# while a changed one overwrites it. So they are read here, and changed in the file.
FROM_THE_FILE = ("Loaded from its file under reminders/programs/ by “python manage.py load_programs”; "
                 "the name, description and steps are changed there, not on this page, and a changed "
                 "file raises the version.")


class StepInline(admin.TabularInline):
    model = Step
    fields = ["key", "offset_days", "send_time", "channel", "topic", "template", "max_lateness"]
    readonly_fields = fields
    verbose_name_plural = "Steps, as the program's file has them (change them there)"
    extra = 0
    ordering = ["offset_days", "send_time"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Program)
class ProgramAdmin(RefusalsAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "version", "step_count", "is_active", "timeline_link"]
    readonly_fields = ["name", "slug", "kind", "description", "version", "updated_at", "timeline_link"]
    inlines = [StepInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "description", "timeline_link"], "description": FROM_THE_FILE}),
        ("Enrolling", {"fields": ["is_active"],
                       "description": "No one new can be enrolled in an inactive program."}),
        ("Version", {"fields": ["version", "updated_at"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # a program is a file under reminders/programs/

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/timeline/", self.admin_site.admin_view(self.timeline_view),
                 name="%s_%s_timeline" % info),
            *super().get_urls(),
        ]

    @admin.display(description="Timeline")
    def timeline_link(self, obj: Program) -> str:
        if not obj.pk:
            return "-"
        url = reverse("admin:reminders_program_timeline", args=[obj.pk])
        return format_html('<a href="{}">Every message, as patients read it</a>', url)

    def timeline_view(self, request, object_id: str):
        """The program's messages rendered as a patient of the user's clinic would get them."""
        program = self.get_object(request, unquote(object_id))  # None for an id that is no number, too
        if program is None:
            raise Http404(f"No program with id {quoted(object_id)}.")
        if not self.has_view_permission(request, program):
            raise PermissionDenied
        language = request.GET.get("language", Language.ENGLISH)
        if language not in Language.values:
            language = Language.ENGLISH
        discreet = request.GET.get("discreet") == "1"
        clinic = clinics_for_user(user=request.user).first()  # None: a sample clinic
        rows = program_preview(program=program, language=language, clinic=clinic, discreet=discreet)
        return admin_page(
            request, model_admin=self, template="admin/reminders/program/timeline.html",
            title=f"{program.name}: timeline", original=program, rows=rows, clinic=clinic,
            language=language, discreet=discreet, languages=Language.choices,
        )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, obj: Program) -> int:
        return obj.step_total


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


# Codes the service writes itself, besides Twilio's.
OWN_ERROR_CODES = {
    "connect": "Could not connect to Twilio; nothing was sent.",
    "pacing": "The send-rate limiter could not be reached; nothing was sent.",
    "smtp": "The mail server was unavailable.",
    "unknown": "Interrupted while sending, and the provider could not settle it.",
}
KNOWN_ERROR_CODES = {**twilio_errors.RETRYABLE, **twilio_errors.PERMANENT, **OWN_ERROR_CODES}


class ErrorCodeFilter(admin.SimpleListFilter):
    """The error codes a coordinator meets, in words. Listed from what is known
    rather than read from the table: Django's own filter ran a DISTINCT over
    every message, which grew with the table (92 ms at a million rows)."""

    title = "error"
    parameter_name = "error"

    def lookups(self, request, model_admin):
        return [("any", "Any error"),
                *((code, f"{code}: {text}") for code, text in sorted(KNOWN_ERROR_CODES.items())),
                ("other", "Another code")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.exclude(error_code="")
        if value == "other":
            return queryset.exclude(error_code="").exclude(error_code__in=KNOWN_ERROR_CODES)
        if value in KNOWN_ERROR_CODES:
            return queryset.filter(error_code=value)
        return queryset


STATUS_COLOURS = {"sent": "#1a7f37", "delivered": "#1a7f37", "failed": "#cf222e",
                  "skipped": "#9a6700", "cancelled": "#57606a"}


@admin.register(Message)
class MessageAdmin(CsvExportMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "patient", "clinic", "step_label", "channel", "due_local", "status_badge", "reason"]
    list_filter = ["status", "channel", clinic_list_filter("enrollment__patient__clinic"), DueDateFilter,
                   ErrorCodeFilter]
    date_hierarchy = "due_at"
    search_fields = ["enrollment__patient__last_name", "provider_message_id"]
    list_select_related = ["enrollment__patient__clinic", "step"]
    show_full_result_count = False
    actions = ["export_csv"]
    readonly_fields = ["enrollment", "step", "channel", "scheduled_at", "due_at", "due_local", "status",
                       "reason", "error_code", "attempts", "lease_expires_at", "sent_at", "delivered_at",
                       "provider_message_id", "subject", "body", "updated_at"]
    fieldsets = [
        (None, {"fields": ["enrollment", "step", "channel"]}),
        ("Schedule", {"fields": ["due_local", "scheduled_at", "due_at"]}),
        ("Outcome", {"fields": ["status", "reason", "error_code", "attempts", "sent_at", "delivered_at",
                                "provider_message_id", "lease_expires_at", "updated_at"]}),
        ("Content as sent", {"fields": ["subject", "body"], "classes": ["collapse"]}),
    ]
    export_columns = [
        ("id", lambda m: m.pk), ("enrollment_id", lambda m: m.enrollment_id),
        ("patient_id", lambda m: m.enrollment.patient_id), ("clinic", lambda m: m.enrollment.patient.clinic.name),
        ("step", lambda m: m.step.key), ("channel", lambda m: m.channel),
        ("due_at_utc", lambda m: m.due_at.isoformat()), ("status", lambda m: m.status),
        ("reason", lambda m: m.reason), ("error_code", lambda m: m.error_code),
        ("sent_at_utc", lambda m: m.sent_at.isoformat() if m.sent_at else ""),
    ]

    def get_export_queryset(self, queryset):
        return queryset.select_related("enrollment__patient__clinic", "step")

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
        colour = STATUS_COLOURS.get(obj.status, "#0969da")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())
