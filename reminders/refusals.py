"""
Requests refused for their own input, answered 400 (or 404) with a page that says
why, instead of a 500 from deep inside a query.

``Refused`` may be raised wherever a request's input is found wrong (a filter
value that is no id, a year no date can have); RefusalMiddleware turns it into
the page. Its reason is shown to the user and not logged: it may quote what was
typed. Django logs the status and the path, as for any 4xx.
"""

from django.contrib import admin
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

TITLES = {400: "Bad request", 404: "Not found"}


class Refused(BadRequest):
    """A request refused for its own input; ``reason`` names the field and what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def quoted(value: str, *, limit: int = 40) -> str:
    """A typed value for a reason: quoted, control characters escaped, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[0]


def refusal_response(request: HttpRequest, *, reason: str, status: int = 400) -> HttpResponse:
    """The refusal page, in the admin's frame (its header and, for staff, their links)."""
    # Without a user (an error before the authentication middleware) the frame has no links.
    frame = admin.site.each_context(request) if hasattr(request, "user") else {}
    context = {**frame, "title": TITLES.get(status, "Refused"), "reason": reason, "status": status}
    return render(request, "admin/refused.html", context, status=status)


def nul_problem(request: HttpRequest) -> str:
    """Why a request's address or query must be refused for a NUL character ("" when it need not).

    PostgreSQL stores and compares no NUL in text, so a search or filter value
    with one failed deep in the query; nobody types one on purpose.
    """
    if "\x00" in request.path:
        return "The address contains a NUL character (\\x00), which no page has."
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return (f"Query parameter {quoted(key)} contains a NUL character (\\x00), which cannot be "
                    "searched for or stored.")
    return ""
