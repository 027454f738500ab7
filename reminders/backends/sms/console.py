import sys
import threading
import uuid

from .base import BaseSmsBackend, Sender, SmsSent


class SmsBackend(BaseSmsBackend):
    """Writes each SMS to standard output: for development only.

    The number is masked, but the text is shown, as Django's console email
    backend shows emails; never use it with real patients.
    """

    _lock = threading.Lock()

    def __init__(self, stream=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str, message_id: int, sender: Sender | None = None) -> SmsSent:
        masked = f"{'*' * max(len(to) - 2, 0)}{to[-2:]}"
        with self._lock:
            self.stream.write(
                f"--- SMS for message {message_id} to {masked} ---\n{body}\n"
                f"--- {len(body)} characters ---\n"
            )
            self.stream.flush()
        return SmsSent(provider_message_id=f"console-{uuid.uuid4().hex}")
