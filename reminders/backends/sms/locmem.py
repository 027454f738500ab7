import threading
import uuid
from dataclasses import dataclass

from .base import BaseSmsBackend, SmsSent


@dataclass(frozen=True)
class OutboxSms:
    to: str
    body: str
    message_id: int
    provider_message_id: str


# Every SMS "sent" in this process, for tests (like django.core.mail.outbox).
outbox: list[OutboxSms] = []
_lock = threading.Lock()


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str, message_id: int) -> SmsSent:
        sent = OutboxSms(to=to, body=body, message_id=message_id,
                         provider_message_id=f"locmem-{uuid.uuid4().hex}")
        with _lock:
            outbox.append(sent)
        return SmsSent(provider_message_id=sent.provider_message_id)
