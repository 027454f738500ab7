"""One step muted for one patient, from the enrollment's timeline: with a reason, previewed, and unmuted
the same way (for EnrollmentAdmin)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse

from ..models import Enrollment, Step
from ..refusals import quoted
from ..scheduling import moment_words
from ..selectors.milestone_effects import step_mute_current, step_mute_effects, step_unmute_effects
from ..selectors.milestones import OPEN_STATUSES
from ..services.milestones import step_mute, step_unmute
from .milestone_forms import PreviewConfirmFields, StepMuteForm
from .milestones import preview_then_apply
from .scoping import ID


class StepMuteAdminMixin:
    def get_urls(self):
        app, model = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/steps/<str:step_id>/mute/", view(self.step_mute_view),
                 name=f"{app}_{model}_step_mute"),
            path("<path:object_id>/steps/<str:step_id>/unmute/", view(self.step_unmute_view),
                 name=f"{app}_{model}_step_unmute"),
            *super().get_urls(),
        ]

    def _mute_target(self, request, object_id: str, step_id: str) -> tuple[Enrollment, Step]:
        enrollment = self.get_object_or_404(request, object_id)  # another clinic's enrollment is not found
        if not self.has_change_permission(request, enrollment):
            raise PermissionDenied
        if not ID.fullmatch(step_id):
            raise Http404(f"No step {quoted(step_id)}: steps are numbered.")
        step = Step.objects.filter(pk=step_id, program_id=enrollment.program_id).first()
        if step is None:
            raise Http404(f"No step {step_id} in this enrollment's program.")
        return enrollment, step

    @staticmethod
    def _enrollment_url(enrollment: Enrollment) -> str:
        return reverse("admin:reminders_enrollment_change", args=[enrollment.pk])

    def step_mute_view(self, request, object_id, step_id):
        enrollment, step = self._mute_target(request, object_id, step_id)
        zone = enrollment.patient.zone
        if (current := step_mute_current(enrollment=enrollment, step=step)) is not None:
            raise Http404(f"This step is already muted for this patient ({current.reason}): unmute it instead.")
        form = StepMuteForm(request.POST or None)

        def preview(data):
            return step_mute_effects(enrollment=enrollment, step=step, reason=data["reason"], muted_by=request.user)

        def apply(data):
            return step_mute(enrollment=enrollment, step=step, reason=data["reason"], muted_by=request.user)

        def done(data):
            return f"Muted “{step.title}” for this patient ({data['reason'].strip()})"

        return preview_then_apply(
            self, request, form=form, log_obj=enrollment, zone=zone, back_url=self._enrollment_url(enrollment),
            title=f"Mute “{step.title}” for {enrollment.patient}", preview=preview, apply=apply, done=done,
            field_map={"step": None}, original=enrollment, confirm_label="Confirm and mute",
            intro=self._open_note(enrollment) or f"{step.when}: {step.title}. Muting cancels this step's messages "
                                                 "not yet sent, for this patient only; unmuting brings back "
                                                 "those still in time.")

    def step_unmute_view(self, request, object_id, step_id):
        enrollment, step = self._mute_target(request, object_id, step_id)
        zone = enrollment.patient.zone
        mute = step_mute_current(enrollment=enrollment, step=step)
        if mute is None:
            raise Http404("This step is not muted for this patient.")
        form = PreviewConfirmFields(request.POST or None)
        who = mute.muted_by.get_username() if mute.muted_by_id else "a former user"

        def preview(data):
            return step_unmute_effects(enrollment=enrollment, step=step)

        def apply(data):
            return step_unmute(mute=mute, unmuted_by=request.user)

        def done(data):
            return f"Unmuted “{step.title}” for this patient"

        return preview_then_apply(
            self, request, form=form, log_obj=enrollment, zone=zone, back_url=self._enrollment_url(enrollment),
            title=f"Unmute “{step.title}” for {enrollment.patient}", preview=preview, apply=apply, done=done,
            preview_on_get=True, field_map={"step": None}, original=enrollment, confirm_label="Confirm and unmute",
            mute=f"Muted by {who} on {moment_words(mute.muted_at, zone)}: {mute.reason}")

    @staticmethod
    def _open_note(enrollment: Enrollment) -> str:
        if enrollment.status in OPEN_STATUSES:
            return ""
        return f"This enrollment is {enrollment.get_status_display().lower()}: nothing of it will be sent."
