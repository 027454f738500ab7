"""The messages planned for patients: every one, with its status and reason."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from ..backends.sms import twilio_errors
from ..models import Message, MessageStatus
from ..selectors.clinic_scoping import clinics_for_user
from .display import cut, local_time, short_local_time
from .scoping import ClinicScopedAdminMixin, CsvExportMixin, clinic_list_filter


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
    # Short columns, one line a row at 1280 px; the clinic only for users of several clinics.
    list_display = ["patient_short", "step_label", "channel", "due_short", "status_badge", "reason_short", "clinic"]
    list_display_links = ["step_label"]
    list_filter = ["status", "channel", clinic_list_filter("enrollment__patient__clinic"), DueDateFilter,
                   ErrorCodeFilter]
    date_hierarchy = "due_at"
    search_fields = ["enrollment__patient__last_name", "provider_message_id"]
    list_select_related = ["enrollment__patient__clinic", "step"]
    show_full_result_count = False
    actions = ["export_csv"]
    readonly_fields = ["enrollment", "step", "channel", "scheduled_local", "due_local", "status",
                       "reason", "error_code", "attempts", "lease_local", "sent_local", "delivered_local",
                       "provider_message_id", "subject", "body", "updated_local"]
    fieldsets = [
        (None, {"fields": ["enrollment", "step", "channel"]}),
        ("Schedule (the patient's zone)", {"fields": ["due_local", "scheduled_local"]}),
        ("Outcome", {"fields": ["status", "reason", "error_code", "attempts", "sent_local", "delivered_local",
                                "provider_message_id", "lease_local", "updated_local"]}),
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

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if len(clinics_for_user(user=request.user)[:2]) < 2:
            shown.remove("clinic")
        return shown

    def get_ordering(self, request):
        # One enrollment's messages in the order of the program's days, not of quiet-hour moves.
        if "enrollment__id__exact" in request.GET:
            return ["step__offset_days", "step__send_time", "step__key", "channel"]
        return super().get_ordering(request)

    @admin.display(description="Patient", ordering="enrollment__patient__last_name")
    def patient(self, obj: Message):
        return obj.enrollment.patient

    @admin.display(description="Patient", ordering="enrollment__patient__last_name")
    def patient_short(self, obj: Message):
        return cut(str(obj.enrollment.patient), width="s")

    @admin.display(description="Clinic")
    def clinic(self, obj: Message):
        return obj.enrollment.patient.clinic

    @admin.display(description="Step")
    def step_label(self, obj: Message):
        return cut(str(obj.step), width="m")

    @admin.display(description="Reason")
    def reason_short(self, obj: Message):
        return cut(obj.reason, width="l") if obj.reason else ""

    @admin.display(description="Due (patient's zone)", ordering="due_at")
    def due_short(self, obj: Message) -> str:
        return short_local_time(obj.due_at, obj.enrollment.patient.zone)

    def _local(self, obj: Message, moment) -> str:
        return local_time(moment, obj.enrollment.patient.zone)

    @admin.display(description="Due (patient's zone)", ordering="due_at")
    def due_local(self, obj: Message) -> str:
        return self._local(obj, obj.due_at)

    @admin.display(description="Planned for")
    def scheduled_local(self, obj: Message) -> str:
        return self._local(obj, obj.scheduled_at)

    @admin.display(description="Sent")
    def sent_local(self, obj: Message) -> str:
        return self._local(obj, obj.sent_at)

    @admin.display(description="Delivered")
    def delivered_local(self, obj: Message) -> str:
        return self._local(obj, obj.delivered_at)

    @admin.display(description="Claim lease until")
    def lease_local(self, obj: Message) -> str:
        return self._local(obj, obj.lease_expires_at)

    @admin.display(description="Last changed")
    def updated_local(self, obj: Message) -> str:
        return self._local(obj, obj.updated_at)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Message):
        colour = STATUS_COLOURS.get(obj.status, "#0969da")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_status_display())
