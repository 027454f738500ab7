"""The replies and escalations inbox: newest and most urgent first, acknowledged with who and when."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import ngettext

from ..models import CheckInAnswer, Escalation, InboundKind, InboundMessage, Urgency
from ..services.escalations import escalation_acknowledge
from .display import age
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


@admin.register(Escalation)
class EscalationAdmin(ClinicScopedAdminMixin, admin.ModelAdmin):
    list_display = ["state", "urgency_badge", "summary", "patient", "clinic", "kind", "age_display",
                    "acknowledged_by", "acknowledged_at"]
    list_display_links = ["summary"]
    list_filter = [OpenFilter, "urgency", "kind", clinic_list_filter("clinic")]
    search_fields = ["patient__last_name__unaccent", "patient__first_name__unaccent", "summary"]
    patient_search_path = "patient__"
    list_select_related = ["patient", "clinic", "acknowledged_by"]
    # Open first (NULLs first on every database), then urgent, then newest.
    ordering = [F("acknowledged_at").asc(nulls_first=True), "urgency", "-created_at"]
    actions = ["acknowledge"]
    fieldsets = [
        (None, {"fields": ["summary", "urgency", "kind", "patient", "clinic", "enrollment", "created_at"]}),
        ("Reply", {"fields": ["inbound_body"]}),
        ("Acknowledged", {"fields": ["acknowledged_by", "acknowledged_at"]}),
    ]
    readonly_fields = ["summary", "urgency", "kind", "patient", "clinic", "enrollment", "created_at",
                       "inbound_body", "acknowledged_by", "acknowledged_at"]

    def has_add_permission(self, request) -> bool:
        return False  # raised by the service from replies

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="State", ordering="acknowledged_at")
    def state(self, obj: Escalation) -> str:
        return "Acknowledged" if obj.acknowledged_at else "Open"

    @admin.display(description="Urgency", ordering="urgency")
    def urgency_badge(self, obj: Escalation):
        colour = "#cf222e" if obj.urgency == Urgency.URGENT else "inherit"
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.get_urgency_display())

    @admin.display(description="Age", ordering="created_at")
    def age_display(self, obj: Escalation) -> str:
        if obj.acknowledged_at:
            return f"acknowledged after {age(obj.acknowledged_at - obj.created_at)}"
        return f"open {age(timezone.now() - obj.created_at)}"

    @admin.display(description="Reply")
    def inbound_body(self, obj: Escalation) -> str:
        return obj.inbound.body if obj.inbound_id else "-"

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
            *super().get_urls(),
        ]

    def acknowledge_view(self, request, object_id):
        escalation = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_change_permission(request, escalation):
            raise PermissionDenied
        if escalation_acknowledge(escalation=escalation, acknowledged_by=request.user):
            self.log_change(request, escalation, "Acknowledged.")
            self.message_user(request, "Escalation acknowledged.", messages.SUCCESS)
        else:
            self.message_user(request, f"Already acknowledged by {escalation.acknowledged_by} at "
                                       f"{escalation.acknowledged_at:%Y-%m-%d %H:%M} UTC.", messages.WARNING)
        return redirect(reverse("admin:reminders_escalation_change", args=[escalation.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Nothing here is edited by hand: the only change is "Acknowledge".
        extra_context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                         "show_save_and_add_another": False}
        return super().changeform_view(request, object_id, form_url, extra_context)
