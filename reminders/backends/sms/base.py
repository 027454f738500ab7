from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Sender:
    """Where a text comes from: a number or short code, or a messaging service, and its rate."""

    address: str  # E.164 number, short code, or a messaging service SID
    is_service: bool = False
    segments_per_second: float = 0.0  # 0: no limit


@dataclass(frozen=True)
class SmsSent:
    """The provider accepted the message."""

    provider_message_id: str


@dataclass(frozen=True)
class SmsFound:
    """What a lookup found about a message whose outcome was unknown."""

    provider_message_id: str
    status: str  # the provider's status word, e.g. "sent", "delivered", "failed"
    error_code: str = ""


class SmsSendError(Exception):
    """The provider did not take the message.

    ``reason`` is written for a coordinator and carries no patient data.
    ``retryable``: nothing went out and trying again later may work.
    ``fallback``: the number cannot take texts; another channel should be tried.
    ``opted_out``: the provider says the patient opted out of texts.
    """

    def __init__(self, reason: str, *, code: str = "", retryable: bool = False,
                 fallback: bool = False, opted_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable
        self.fallback = fallback
        self.opted_out = opted_out


class SmsOutcomeUnknown(Exception):
    """The request may have reached the provider but no answer came back.

    The message must not be sent again blindly: the status callback or a
    lookup settles it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BaseSmsBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send(self, *, to: str, body: str, message_id: int, sender: Sender | None = None) -> SmsSent:
        """Hand one SMS to the provider, from ``sender`` (None: the service's default).
        Raises SmsSendError or SmsOutcomeUnknown."""
        raise NotImplementedError

    def lookup(self, *, to: str, body: str, since: datetime, sender: Sender | None = None) -> SmsFound | None:
        """Find a message sent to ``to`` with ``body`` since ``since``; None if there is none.

        Backends that cannot look messages up say the message was not found only
        when they are sure; by default they cannot, so they raise.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot look messages up")
