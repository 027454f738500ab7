"""The coordinators' admin site: Django's admin plus the inbox count, the dashboard
and an optional second factor for logging in (``ADMIN_REQUIRE_OTP``)."""

from functools import partial, wraps

from django.conf import settings
from django.contrib import admin
from django.urls import path

from .refusals import Refused
from .selectors.inbox import escalations_open_count

OTP_LOGIN_TEMPLATE = "otp/admin111/login.html"


class FollowupAdminSite(admin.AdminSite):
    site_header = "Fracture follow-up"
    # The side bar of models took 300 px of every page at 1280 px and squeezed the lists
    # (status, kind, age cut off); the index and the breadcrumbs lead to the same places.
    enable_nav_sidebar = False
    site_title = "Fracture follow-up"
    index_title = "Coordinator workplace"
    index_template = "admin/followup_index.html"
    site_url = None  # the service has no public site to link to

    # Read per request, so the setting can be switched without a code change.
    @property
    def login_form(self):
        if settings.ADMIN_REQUIRE_OTP:
            from django_otp.admin import OTPAdminAuthenticationForm

            return OTPAdminAuthenticationForm
        return None

    @property
    def login_template(self):
        return OTP_LOGIN_TEMPLATE if settings.ADMIN_REQUIRE_OTP else None

    def has_permission(self, request) -> bool:
        allowed = super().has_permission(request)
        if allowed and settings.ADMIN_REQUIRE_OTP:
            # A password alone is not enough: the session must be verified by a device.
            return request.user.is_verified()
        return allowed

    def admin_view(self, view, cacheable=False):
        # Every admin page, ours and the libraries': a year no date can have, or an action's
        # row id that is no number, is a 500 in Django's queries; refused with the reason
        # instead (admin/guards.py).
        from .admin.guards import selected_rows_problem, year_lookup_problem

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if problem := year_lookup_problem(request.GET) or selected_rows_problem(request):
                raise Refused(problem)
            return view(request, *args, **kwargs)

        return super().admin_view(guarded, cacheable)

    def each_context(self, request):
        context = super().each_context(request)
        user = request.user
        if user.is_active and user.is_staff and user.has_perm("reminders.view_escalation"):
            context["open_escalations"] = escalations_open_count(user=user)
        return context

    def get_urls(self):
        from .admin.dashboard import dashboard_view
        from .admin.fls_report import fls_report_view
        from .admin.milestones_upload import milestones_csv_template_view, milestones_csv_view
        from .admin.needs_action import needs_action_view
        from .admin.sms_test import sms_test_self_view

        return [
            path("dashboard/", self.admin_view(partial(dashboard_view, site=self)), name="followup_dashboard"),
            path("audit/", self.admin_view(partial(fls_report_view, site=self)), name="followup_fls_audit"),
            path("needs-action/", self.admin_view(partial(needs_action_view, site=self)),
                 name="followup_needs_action"),
            path("test-sms/", self.admin_view(partial(sms_test_self_view, site=self)),
                 name="followup_sms_test_self"),
            path("milestones/import-csv/", self.admin_view(partial(milestones_csv_view, site=self)),
                 name="followup_milestones_csv"),
            path("milestones/import-csv/template.csv", self.admin_view(milestones_csv_template_view),
                 name="followup_milestones_csv_template"),
            *super().get_urls(),
        ]
