"""Answers a request refused for its own input with a page that says why (reminders/refusals.py)."""

import zoneinfo

from django.utils import timezone

from .refusals import Refused, nul_problem, refusal_response
from .selectors.clinic_scoping import clinic_zone_for_user


class RefusalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Checked before any view, so no search, filter or autocomplete sends one to the database.
        if problem := nul_problem(request):
            return refusal_response(request, reason=problem)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Refused):
            return refusal_response(request, reason=exception.reason)
        return None


class ClinicTimeZoneMiddleware:
    """Times on the admin's pages in the zone of the user's clinic (the clinic's day, not UTC's).

    A user of clinics in several zones reads them in the server's zone (UTC); every time shows its
    zone's abbreviation either way (project/formats). Times that belong to a patient (when a
    message goes out) are shown in the patient's zone by the pages themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = clinic_zone_for_user(user=user) if user is not None and request.path.startswith("/admin/") else None
        if zone is None:
            return self.get_response(request)
        timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
