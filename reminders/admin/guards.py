"""
The admin's answers to input it cannot use: a 400 page that says why
(reminders/refusals.py), never a 500 and never a silent redirect.

- A year in a list's query (a date hierarchy's ``created_at__year``, or the same
  typed by hand) must be one a date can have: Django turns an impossible one
  into a 500 (FollowupAdminSite checks it for every admin page).
- A list filter that cannot be applied: Django redirects to the unfiltered list
  without a word (``?e=1``); ours answer 400 with the reason.
- A refused form is shown again with its errors, as 400 rather than 200.
"""

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.http import QueryDict

from ..refusals import Refused, quoted

# Django's date hierarchy adds a year to the one asked for: 9998 is the last that works.
FIRST_YEAR, LAST_YEAR = 1, 9998
YEAR_PARTS = {"year", "iso_year"}
LIST_LOOKUPS = {"in", "range"}


def year_lookup_problem(params: QueryDict) -> str:
    """Why a query's year lookup (``created_at__year=-5``) must be refused ("" when it need not)."""
    for key, values in params.lists():
        parts = key.split("__")
        if not YEAR_PARTS & set(parts[1:]):
            continue
        for value in values:
            pieces = value.split(",") if parts[-1] in LIST_LOOKUPS else [value]
            for piece in pieces:
                try:
                    year = int(piece)
                except ValueError:
                    year = None
                if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
                    return f"{key}: {quoted(value)} is not a year from {FIRST_YEAR} to {LAST_YEAR}."
    return ""


def selected_rows_problem(request) -> str:
    """Why an admin action's selected rows must be refused ("" when they need not).

    Every list of ours is keyed by number; Django hands the ids to the database
    as they came, and one that is no number (or holds a NUL) was a 500 there.
    """
    if request.method != "POST":
        return ""
    for value in request.POST.getlist("_selected_action"):
        if not (value.isascii() and value.isdigit()):
            return f"selected rows: {quoted(value)} is not a row id."
    return ""


def _why(exc: IncorrectLookupParameters) -> str:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, ValidationError):
        return " ".join(cause.messages)
    return str(cause)


class RefusalsAdminMixin:
    """A ModelAdmin whose lists and forms say why they refuse what they were sent."""

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters as exc:
            raise Refused(f"This list cannot be filtered that way: {_why(exc)}") from exc

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            response.status_code = 400
        return response
