"""
Twilio webhooks: delivery status callbacks and incoming texts.

A request without a valid X-Twilio-Signature gets 403 and changes nothing.
The signature covers the URL Twilio called; behind a TLS-terminating proxy set
TRUST_PROXY_HEADERS so Django sees the public scheme and host.
"""

import logging
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from phonenumber_field.phonenumber import PhoneNumber
from twilio.request_validator import RequestValidator

from .services.delivery import StatusUpdate, message_status_update
from .services.inbound import inbound_receive

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # Twilio's own posts are a few KB


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
    """403 for an unsigned or oversized request; None when it may go on."""
    if len(request.body) > MAX_BODY_BYTES:
        return HttpResponse("Request too large.", status=413)
    if not _signature_valid(request):
        logger.warning("webhook %s refused: invalid signature", request.path)
        return HttpResponseForbidden("Invalid signature.")
    return None


def _twiml(text: str | None) -> HttpResponse:
    inner = f"<Message>{escape(text)}</Message>" if text else ""
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>',
                        content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, message_id: int) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "")
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.")
    changed = message_status_update(update=StatusUpdate(
        message_id=message_id, provider_message_id=sid[:64], status=status[:20],
        error_code=request.POST.get("ErrorCode", "")[:16]))
    logger.info("status callback for message %s: %s (%s)", message_id, status[:20],
                "applied" if changed else "no change")
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    sid = request.POST.get("MessageSid", "")
    number = PhoneNumber.from_string(request.POST.get("From", "")) if request.POST.get("From") else None
    if not sid or number is None or not number.is_valid():
        return HttpResponseBadRequest("MessageSid and a valid From number are required.")
    result = inbound_receive(
        provider_message_id=sid[:64], from_number=number.as_e164, to_number=request.POST.get("To", ""),
        body=request.POST.get("Body", ""), opt_out_type=request.POST.get("OptOutType", ""),
    )
    return _twiml(result.reply)
