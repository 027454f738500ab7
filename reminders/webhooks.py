"""
Twilio webhooks: delivery status callbacks and incoming texts.

A request without a valid X-Twilio-Signature gets 403 and changes nothing.
The signature covers the URL Twilio called; behind a TLS-terminating proxy set
TRUST_PROXY_HEADERS so Django sees the public scheme and host.
"""

import logging
import re
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from phonenumber_field.phonenumber import PhoneNumber, to_python
from twilio.request_validator import RequestValidator

from .services.delivery import StatusUpdate, message_status_update
from .services.inbound import inbound_receive
from .tasks import send_escalation_alert

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # Twilio's own posts are a few KB

# C0 controls but tab, newline and carriage return: PostgreSQL refuses NUL in text,
# and the others have no business in a stored reply.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Characters XML 1.0 cannot carry at all, escaped or not.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _field(request: HttpRequest, name: str, *, limit: int) -> str:
    """A posted field as the services may store it: without control characters, at most ``limit`` long."""
    return _CONTROL.sub("", request.POST.get(name, ""))[:limit]


def _signature_valid(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    try:
        params = request.POST
    except Exception:  # a body Django cannot parse cannot have been signed by Twilio
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(
        request.build_absolute_uri(), params, signature
    )


def _refuse(request: HttpRequest) -> HttpResponse | None:
    """400, 413 or 403 for a malformed, oversized or unsigned request; None when it may go on."""
    # The declared length is checked before the body is read: Django would read
    # up to DATA_UPLOAD_MAX_MEMORY_SIZE first, and fails with a 500 on a
    # Content-Length that is not a number.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = -1
    if declared < 0:
        return HttpResponseBadRequest("Invalid Content-Length.")
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return HttpResponse("Request too large.", status=413)
    if not _signature_valid(request):
        logger.warning("webhook %s refused: invalid signature", request.path)
        return HttpResponseForbidden("Invalid signature.")
    return None


def _twiml(text: str | None) -> HttpResponse:
    inner = f"<Message>{escape(_NOT_XML.sub('', text))}</Message>" if text else ""
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
                        content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, message_id: int) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    sid = _field(request, "MessageSid", limit=64)
    status = _field(request, "MessageStatus", limit=20)
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.")
    changed = message_status_update(update=StatusUpdate(
        message_id=message_id, provider_message_id=sid, status=status,
        error_code=_field(request, "ErrorCode", limit=16)))
    logger.info("status callback for message %s: %r (%s)", message_id, status,
                "applied" if changed else "no change")
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    sid = _field(request, "MessageSid", limit=64)
    # to_python, unlike PhoneNumber.from_string, does not raise on text that is no number at all.
    number = to_python(_field(request, "From", limit=64))
    if not sid or not isinstance(number, PhoneNumber) or not number.is_valid():
        return HttpResponseBadRequest("MessageSid and a valid From number are required.")
    result = inbound_receive(
        provider_message_id=sid, from_number=number.as_e164, to_number=_field(request, "To", limit=32),
        body=_field(request, "Body", limit=MAX_BODY_BYTES), opt_out_type=_field(request, "OptOutType", limit=16),
    )
    if result.alert_escalation_id:
        send_escalation_alert.delay_on_commit(result.alert_escalation_id)
    return _twiml(result.reply)
