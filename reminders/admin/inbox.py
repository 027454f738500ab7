"""The replies and escalations inbox: newest and most urgent first, acknowledged with who and when."""

import zoneinfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import ngettext

from ..models import CheckInAnswer, Escalation, EscalationKind, InboundKind, InboundMessage, Urgency
from ..selectors.clinic_scoping import clinics_for_user
from ..services.escalations import escalation_acknowledge, escalation_note_add
from .display import age, cut, local_time, short_local_time
from .scoping import ClinicScopedAdminMixin, clinic_list_filter

KIND_COLOURS = {InboundKind.RED_FLAG: "#cf222e", InboundKind.OPT_OUT: "#9a6700", InboundKind.HELP: "#9a6700"}


@admin.register(InboundMessage)
class InboundMessageAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "kind_badge", "patient", "clinic", "preview", "answer_value"]
    list_filter = ["kind", clinic_list_filter("clinic")]
    search_fields = ["patient__last_name__unaccent", "patient__first_name__unaccent", "body"]
    patient_search_path = "patient__"
    list_select_related = ["patient", "clinic", "answer"]
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-id"]
    fieldsets = [
        (None, {"fields": ["received_at", "kind", "patient", "clinic", "enrollment", "in_reply_to"]}),
        ("Reply", {"fields": ["body", "answer_value"]}),
    ]
    readonly_fields = ["received_at", "kind", "patient", "clinic", "enrollment", "in_reply_to", "body",
                       "answer_value"]

    def has_add_permission(self, request) -> bool:
        return False  # replies arrive from the SMS provider

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Kind", ordering="kind")
    def kind_badge(self, obj: InboundMessage):
        return format_html('<strong style="color:{}">{}</strong>', KIND_COLOURS.get(obj.kind, "inherit"),
                           obj.get_kind_display())

    @admin.display(description="Reply")
    def preview(self, obj: InboundMessage) -> str:
        return Truncator(obj.body).chars(80)

    @admin.display(description="Check-in answer")
    def answer_value(self, obj: InboundMessage) -> str:
        try:
            return obj.answer.value
        except CheckInAnswer.DoesNotExist:
            return "-"


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("acknowledged", "Acknowledged")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(acknowledged_at__isnull=True)
        if self.value() == "acknowledged":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


def clinic_time(moment, clinic) -> str:
    return local_time(moment, zoneinfo.ZoneInfo(clinic.time_zone))


def phone_link(number) -> str:
    """A patient's mobile as a link that dials it (tel:), or a plain "no mobile on file"."""
    if number in (None, ""):
        return "no mobile on file"
    return format_html('<a href="tel:{}" class="patient-phone">{}</a>', number.as_e164, number.as_national)


@admin.register(Escalation)
class EscalationAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    # Short columns, so Kind, Age and Acknowledged fit at 1280 px; the clinic only for users of several.
    list_display = ["urgency_badge", "summary_short", "patient_short", "phone_and_language", "kind_short",
                    "age_display", "acknowledged_short", "clinic"]
    list_display_links = ["summary_short"]
    list_filter = [OpenFilter, "urgency", "kind", clinic_list_filter("clinic")]
    search_fields = ["patient__last_name__unaccent", "patient__first_name__unaccent", "summary"]
    patient_search_path = "patient__"
    list_select_related = ["patient", "clinic", "acknowledged_by"]
    # Open first (NULLs first on every database), then urgent, then newest.
    ordering = [F("acknowledged_at").asc(nulls_first=True), "urgency", "-created_at"]
    actions = ["acknowledge"]
    fieldsets = [
        (None, {"fields": ["summary", "urgency", "kind", "enrollment", "opened"]}),
        ("Patient: call them", {"fields": ["patient", "phone", "language", "clinic"]}),
        ("Reply", {"fields": ["inbound_body"]}),
        ("What was done", {"fields": ["notes_list", "acknowledged"]}),
    ]
    readonly_fields = ["summary", "urgency", "kind", "patient", "clinic", "enrollment", "opened",
                       "phone", "language", "inbound_body", "notes_list", "acknowledged"]

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if len(clinics_for_user(user=request.user)[:2]) < 2:
            shown.remove("clinic")
        return shown

    def has_add_permission(self, request) -> bool:
        return False  # raised by the service from replies

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Urgency", ordering="urgency")
    def urgency_badge(self, obj: Escalation):
        colour = "#cf222e" if obj.urgency == Urgency.URGENT else "inherit"
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_urgency_display())

    @admin.display(description="Summary", ordering="summary")
    def summary_short(self, obj: Escalation):
        return cut(obj.summary, width="s")

    @admin.display(description="Phone")
    def phone(self, obj: Escalation):
        return phone_link(obj.patient.mobile)

    @admin.display(description="Phone, language")
    def phone_and_language(self, obj: Escalation):
        return format_html("<span style=\"white-space:nowrap\">{}</span> <span class=\"followup-note\">{}</span>",
                           phone_link(obj.patient.mobile),
                           obj.patient.get_language_display())

    @admin.display(description="Language", ordering="patient__language")
    def language(self, obj: Escalation) -> str:
        return obj.patient.get_language_display()

    @admin.display(description="Kind", ordering="kind")
    def kind_short(self, obj: Escalation) -> str:
        return "Warning sign" if obj.kind == EscalationKind.RED_FLAG else "Check-in"

    @admin.display(description="Opened")
    def opened(self, obj: Escalation) -> str:
        return clinic_time(obj.created_at, obj.clinic)

    @admin.display(description="Age", ordering="created_at")
    def age_display(self, obj: Escalation) -> str:
        if obj.acknowledged_at:
            return f"took {age(obj.acknowledged_at - obj.created_at)}"
        return f"open {age(timezone.now() - obj.created_at)}"

    @admin.display(description="Patient", ordering="patient__last_name")
    def patient_short(self, obj: Escalation):
        return cut(str(obj.patient), width="s")

    @admin.display(description="Acknowledged", ordering="acknowledged_at")
    def acknowledged_short(self, obj: Escalation):
        if not obj.acknowledged_at:
            return "not yet"
        when = short_local_time(obj.acknowledged_at, zoneinfo.ZoneInfo(obj.clinic.time_zone))
        return cut(f"{when} by {obj.acknowledged_by or 'a former user'}", width="m")

    @admin.display(description="Acknowledged", ordering="acknowledged_at")
    def acknowledged(self, obj: Escalation) -> str:
        if not obj.acknowledged_at:
            return "not yet"
        return f"{clinic_time(obj.acknowledged_at, obj.clinic)} by {obj.acknowledged_by or 'a former user'}"

    @admin.display(description="Reply")
    def inbound_body(self, obj: Escalation) -> str:
        return obj.inbound.body if obj.inbound_id else "-"

    @admin.display(description="Notes")
    def notes_list(self, obj: Escalation):
        notes = obj.notes.select_related("written_by")
        rows = format_html_join(
            "", '<li><span class="followup-note">{} by {}:</span><br>{}</li>',
            ((clinic_time(note.created_at, obj.clinic), note.written_by or "a former user", linebreaksbr(note.text))
             for note in notes))
        return format_html('<ul id="escalation-notes">{}</ul>', rows) if rows else "No notes yet."

    @admin.action(description="Acknowledge selected escalations", permissions=["change"])
    def acknowledge(self, request, queryset):
        done = sum(escalation_acknowledge(escalation=e, acknowledged_by=request.user)
                   for e in queryset.filter(acknowledged_at__isnull=True))
        self.message_user(request, ngettext("Acknowledged {n} escalation.", "Acknowledged {n} escalations.",
                                            done).format(n=done), messages.SUCCESS)

    def get_urls(self):
        app, model = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/acknowledge/", self.admin_site.admin_view(self.acknowledge_view),
                 name=f"{app}_{model}_acknowledge"),
            path("<path:object_id>/note/", self.admin_site.admin_view(self.note_view),
                 name=f"{app}_{model}_note"),
            *super().get_urls(),
        ]

    def _add_note(self, request, escalation: Escalation) -> bool:
        """The note posted with the form, if any; False when it was refused (the reason is shown)."""
        text = request.POST.get("note", "")
        if not text.strip():
            return True
        try:
            escalation_note_add(escalation=escalation, text=text, written_by=request.user)
        except ValidationError as exc:
            self.message_user(request, "Note not saved: " + " ".join(exc.messages), messages.ERROR)
            return False
        self.log_change(request, escalation, "Note added.")
        return True

    def note_view(self, request, object_id):
        escalation = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_change_permission(request, escalation):
            raise PermissionDenied
        if request.POST.get("note", "").strip() and self._add_note(request, escalation):
            self.message_user(request, "Note saved.", messages.SUCCESS)
        elif not request.POST.get("note", "").strip():
            self.message_user(request, "Write what was done first.", messages.WARNING)
        return redirect(reverse("admin:reminders_escalation_change", args=[escalation.pk]))

    def acknowledge_view(self, request, object_id):
        escalation = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_change_permission(request, escalation):
            raise PermissionDenied
        if not self._add_note(request, escalation):
            return redirect(reverse("admin:reminders_escalation_change", args=[escalation.pk]))
        if escalation_acknowledge(escalation=escalation, acknowledged_by=request.user):
            self.log_change(request, escalation, "Acknowledged.")
            self.message_user(request, "Escalation acknowledged.", messages.SUCCESS)
        else:
            self.message_user(request, f"Already acknowledged by {escalation.acknowledged_by} at "
                                       f"{clinic_time(escalation.acknowledged_at, escalation.clinic)}.",
                              messages.WARNING)
        return redirect(reverse("admin:reminders_escalation_change", args=[escalation.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Nothing here is edited by hand: notes and "Acknowledge" have their own buttons.
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}
        return super().changeform_view(request, object_id, form_url, extra_context)
