"""Pages patients reach from their emails, and the health check."""

from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .models import Patient
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
