"""
Twilio SMS through the official SDK.

Every outcome is classified: accepted (the SID is kept); retryable, only where
the answer proves nothing was created (429, a connection refused before the
request went out, some carrier codes); permanent (invalid or landline numbers,
opt-outs, ...); and unknown (a 5xx, a timeout or a broken connection after the
request went out: Twilio, or a proxy in front of it, may have created the
message before failing). Twilio's Messages API has no idempotency key, so an
unknown outcome is settled by a status callback or a lookup, never repeated blindly.
"""

import logging
import os
from datetime import datetime, timedelta
from urllib.parse import urlencode

import redis
import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NameResolutionError, NewConnectionError

from ... import pacing
from ...sms_encoding import sms_cost
from . import twilio_errors
from .base import BaseSmsBackend, Sender, SmsFound, SmsOutcomeUnknown, SmsSendError, SmsSent

TWILIO_API = "https://api.twilio.com"


class TimeoutHttpClient(TwilioHttpClient):
    """The SDK's client with explicit connect and read timeouts (it has none by
    default) and an optional other base URL (a staging double, a contract mock)."""

    def __init__(self, *, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        super().__init__(pool_connections=True)
        self.timeout = (connect_timeout, read_timeout)
        self.base_url = base_url.rstrip("/")
        # requests reads the proxy and CA settings from the environment on every
        # call, scanning all of it twice (a fifth of a send's CPU, measured); they
        # do not change while the process runs, so they are read once, here.
        self.proxy = requests.utils.get_environ_proxies(self.base_url)
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.trust_env = False

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> Response:
        """The SDK's request through the same session's connection pool, minus what a send does not need.

        The SDK's own version keeps the last request and response on the client
        (so one client cannot serve two threads), formats its log lines even
        when nobody reads them, and hands a dict body to requests, whose checks
        on it cost a tenth of a send; the body is encoded here instead, the same
        way (a list gives the key once per item, None is left out).
        """
        if self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        headers = dict(headers or {})
        body = {"data": data}
        if "json" in headers.get("Content-Type", ""):
            body = {"json": data}
        elif isinstance(data, dict):
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            body = {"data": urlencode({k: v for k, v in data.items() if v is not None}, doseq=True)}
        logged = self.logger.isEnabledFor(logging.INFO)
        if logged:
            self.log_request({"method": method.upper(), "url": url, "params": params, "headers": headers})
        prepared = requests.Request(method=method.upper(), url=url, params=params, headers=headers, auth=auth,
                                    **body).prepare()
        # Straight to the session's connection pool: Twilio sets no cookies, and the SDK follows no redirects.
        response = self.session.get_adapter(url).send(prepared, timeout=timeout or self.timeout,
                                                      verify=self.session.verify, proxies=self.proxy)
        if logged:
            self.log_response(response.status_code, response)
        return Response(int(response.status_code), response.text, response.headers)


def _never_left(exc: requests.ConnectionError) -> bool:
    """Whether the connection failed before any of the request was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, NameResolutionError, ConnectionRefusedError))


def status_callback_url(message_id: int) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/webhooks/twilio/status/{message_id}/"


class SmsBackend(BaseSmsBackend):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TimeoutHttpClient(
                base_url=settings.TWILIO_API_URL,
                connect_timeout=settings.TWILIO_CONNECT_TIMEOUT,
                read_timeout=settings.TWILIO_READ_TIMEOUT,
            ),
        )

    @staticmethod
    def _sender(sender: Sender | None) -> tuple[Sender, dict]:
        """The sender and the Messages API parameter naming it."""
        if sender is None:
            if settings.TWILIO_MESSAGING_SERVICE_SID:
                sender = Sender(address=settings.TWILIO_MESSAGING_SERVICE_SID, is_service=True,
                                segments_per_second=settings.SMS_RATE_PER_SECOND)
            else:
                sender = Sender(address=settings.TWILIO_FROM_NUMBER,
                                segments_per_second=settings.SMS_RATE_PER_SECOND)
        return sender, ({"messaging_service_sid": sender.address} if sender.is_service else {"from_": sender.address})

    def send(self, *, to: str, body: str, message_id: int, sender: Sender | None = None) -> SmsSent:
        sender, sender_param = self._sender(sender)
        try:
            # The sender's rate in segments, shared by all workers.
            pacing.sms_slot_wait(sender=sender.address, segments=sms_cost(body).segments,
                                 rate=sender.segments_per_second)
        except redis.RedisError as exc:
            raise SmsSendError("The send-rate limiter (Redis) could not be reached; nothing was sent.",
                               code="pacing", retryable=True) from exc
        try:
            created = self.client.messages.create(
                to=to, body=body, status_callback=status_callback_url(message_id), **sender_param
            )
        except TwilioRestException as exc:
            if exc.status >= 500:
                raise SmsOutcomeUnknown(f"Twilio answered with a server error (HTTP {exc.status}) after the "
                                        "message was sent; it may have been created, so Twilio is asked "
                                        "before it is sent again.") from exc
            refusal = self._refusal(exc)
            if refusal.code in twilio_errors.QUEUE_FULL:
                # Every worker sending for this sender waits, not just this one.
                pacing.sms_sender_slow_down(sender=sender.address, rate=sender.segments_per_second)
            raise refusal from exc
        except requests.ConnectionError as exc:
            if _never_left(exc):
                raise SmsSendError("Could not connect to Twilio; nothing was sent.",
                                   code="connect", retryable=True) from exc
            raise SmsOutcomeUnknown("The connection to Twilio broke after the message was sent; "
                                    "waiting for Twilio to confirm.") from exc
        except requests.Timeout as exc:  # a read timeout: the request went out
            raise SmsOutcomeUnknown("Twilio did not answer in time after the message was sent; "
                                    "waiting for Twilio to confirm.") from exc
        return SmsSent(provider_message_id=created.sid)

    @staticmethod
    def _refusal(exc: TwilioRestException) -> SmsSendError:
        code = str(exc.code or "")
        if exc.status == 429 or code == "20429":
            return SmsSendError(twilio_errors.explain("20429"), code=code or "429", retryable=True)
        return SmsSendError(
            twilio_errors.explain(code) if code else f"Twilio refused the message (HTTP {exc.status}).",
            code=code or str(exc.status),
            retryable=twilio_errors.is_retryable(code),
            fallback=code in twilio_errors.FALLBACK,
            opted_out=code == twilio_errors.OPTED_OUT,
        )

    def lookup(self, *, to: str, body: str, since: datetime, sender: Sender | None = None) -> SmsFound | None:
        # Twilio filters by recipient and send date; the text tells our message apart. Never by
        # sender: a clinic's sender may have changed since the send, and a lookup that misses
        # the message would have it sent twice.
        recent = self.client.messages.list(to=to, date_sent_after=since - timedelta(minutes=5), limit=50)
        for found in recent:
            if (found.body or "").strip() == body.strip():
                return SmsFound(provider_message_id=found.sid, status=found.status,
                                error_code=str(found.error_code or ""))
        return None
