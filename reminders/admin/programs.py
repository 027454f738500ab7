"""Programs, shared by all clinics: read from their files, shown with their steps and timeline."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html

from ..models import Language, MilestoneKind, Program, Step
from ..refusals import quoted
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.programs import program_preview
from .display import admin_page
from .guards import RefusalsAdminMixin


# Programs and their steps come from reminders/programs/*.toml (`load_programs`): an
# edit here would never reach the file, and a reload of an unchanged file keeps it
# while a changed one overwrites it. So they are read here, and changed in the file.
FROM_THE_FILE = ("Loaded from its file under reminders/programs/ by “python manage.py load_programs”; "
                 "the name, description and steps are changed there, not on this page, and a changed "
                 "file raises the version.")


def _kinds_words(kinds) -> str:
    return ", ".join(str(MilestoneKind(k).label) if k in MilestoneKind.values else k for k in kinds)


class StepInline(admin.TabularInline):
    """The steps, the program's own days first, then the reminders timed from an appointment; with what
    stops each one (a milestone recorded) and what a check-in's answer records, for a physician's review."""

    model = Step
    fields = ["key", "when", "offset_days", "send_time", "channel", "topic", "template", "max_lateness",
              "stops_at", "answers_record"]
    readonly_fields = fields
    verbose_name_plural = "Steps, as the program's file has them (change them there)"
    extra = 0
    ordering = ["relative_to", "offset_days", "send_time"]
    can_delete = False

    @admin.display(description="When")
    def when(self, obj: Step) -> str:
        return obj.when

    @admin.display(description="Stops once recorded")
    def stops_at(self, obj: Step) -> str:
        return _kinds_words(obj.until or []) or "-"

    @admin.display(description="Answer records")
    def answers_record(self, obj: Step) -> str:
        records = obj.answer_milestones or {}
        return "; ".join(f"{answer}: {_kinds_words([kind])}" for answer, kind in sorted(records.items())) or "-"

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
        app, model = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/timeline/", self.admin_site.admin_view(self.timeline_view),
                 name=f"{app}_{model}_timeline"),
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
