"""Twilio's HTTP API faked at the boundary, for tests that run the real SDK."""

import json
import re
import socket
import threading
import time
from contextlib import contextmanager

import responses

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
API = "https://api.twilio.com"
MESSAGES_URL = re.compile(rf"{re.escape(API)}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages\.json.*")


def configure(settings, **overrides) -> None:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = "+12025550199"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = API
    settings.PUBLIC_BASE_URL = "https://followup.example.org"
    for name, value in overrides.items():
        setattr(settings, name, value)


def message_json(sid: str, *, status: str = "queued", body: str = "", to: str = "+12025550101") -> dict:
    return {"sid": sid, "status": status, "body": body, "to": to, "from": "+12025550199",
            "account_sid": ACCOUNT_SID, "error_code": None, "error_message": None,
            "date_created": "Tue, 02 Jun 2026 14:00:00 +0000", "date_sent": None, "num_segments": "1"}


def accepted(sid: str = "SM" + "a" * 32):
    return responses.Response(responses.POST, MESSAGES_URL, json=message_json(sid), status=201)


def refused(status: int, code: int | None, message: str = "refused"):
    body = {"status": status, "message": message, "more_info": "https://www.twilio.com/docs/errors"}
    if code is not None:
        body["code"] = code
    return responses.Response(responses.POST, MESSAGES_URL, json=body, status=status)


def sent_form(call) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(call.request.body))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def silent_server():
    """A loopback server that reads the request and never answers (a read timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    received = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            received.append(conn.recv(65536))
            while not stop.is_set():
                time.sleep(0.05)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def status_callback_body(**fields) -> str:
    return json.dumps(fields)
