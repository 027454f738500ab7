import threading
import uuid
from dataclasses import dataclass

from .base import BaseSmsBackend, Sender, SmsSent


@dataclass(frozen=True)
class OutboxSms:
    to: str
    body: str
    message_id: int
    provider_message_id: str
    sender: str = ""  # the address it came from; "" for the service's default


# Every SMS "sent" in this process, for tests (like django.core.mail.outbox).
outbox: list[OutboxSms] = []
_lock = threading.Lock()


class SmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str, message_id: int, sender: Sender | None = None) -> SmsSent:
        sent = OutboxSms(to=to, body=body, message_id=message_id,
                         provider_message_id=f"locmem-{uuid.uuid4().hex}", sender=sender.address if sender else "")
        with _lock:
            outbox.append(sent)
        return SmsSent(provider_message_id=sent.provider_message_id)
