"""Pages patients reach from their emails, the health check, and the 400 and 404 pages."""

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import Patient
from .refusals import Refused, refusal_response
from .selectors.health import health_report
from .services.unsubscribe import patient_for_token, unsubscribe_patient


@never_cache
@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis, beat and the backlog are fine, 503 otherwise; counts only."""
    report = health_report()
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)


@csrf_exempt  # one-click unsubscribe (RFC 8058) posts from the mail app, without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        # A GET only asks: link scanners open links, and must not unsubscribe anyone.
        patient = unsubscribe_patient(token=token) if request.method == "POST" else patient_for_token(token=token)
    except (signing.BadSignature, Patient.DoesNotExist, KeyError, TypeError):
        return render(request, "reminders/unsubscribe.html", {"invalid": True}, status=400)
    return render(request, "reminders/unsubscribe.html", {
        "clinic": patient.clinic, "done": request.method == "POST", "token": token,
    })


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 handler: our own refusals say why; others (a lookup the admin forbids) in general words."""
    reason = (exception.reason if isinstance(exception, Refused)
              else "The request was refused: it cannot be answered as it is.")
    return refusal_response(request, reason=reason, status=400)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler, with the reason a view gave (a URL that matches nothing has none)."""
    message = exception.args[0] if isinstance(exception, Http404) and exception.args else ""
    reason = message if isinstance(message, str) and message else "There is no page at this address."
    return refusal_response(request, reason=reason, status=404)


def favicon(request: HttpRequest) -> HttpResponse:
    """No icon, and no 404 in the log for every page a browser opens."""
    return HttpResponse(status=204)
