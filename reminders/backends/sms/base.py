from dataclasses import dataclass


@dataclass(frozen=True)
class SmsSent:
    """The provider accepted the message."""

    provider_message_id: str


class SmsSendError(Exception):
    """The provider refused the message; ``reason`` is written for a coordinator."""

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class BaseSmsBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send(self, *, to: str, body: str, message_id: int) -> SmsSent:
        """Hand one SMS to the provider. Raise SmsSendError when it is refused."""
        raise NotImplementedError
