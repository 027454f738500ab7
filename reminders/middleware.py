"""Answers a request refused for its own input with a page that says why (reminders/refusals.py)."""

from .refusals import Refused, nul_problem, refusal_response


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
