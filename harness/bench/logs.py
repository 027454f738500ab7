"""
What the figures read from the processes' logs, and the sizing arithmetic they
check. Pure functions: text in, numbers out. The logs carry message ids, task
names and ids, and counts, never patient data.
"""

import math
import re
from collections import Counter

# reminders/services/send_outcomes.py, at INFO: one line per text handed to the provider.
SENT = re.compile(r"\bmessage (\d+) sent via sms\b")
# Celery's worker, at INFO (celery/app/trace.py LOG_RECEIVED).
RECEIVED = re.compile(r"\bTask ([\w.]+)\[[0-9a-f-]+\] received")
# Celery's worker, at INFO, for a task past its `expires` (celery/worker/request.py).
DISCARDED = re.compile(r"\bDiscarding revoked task: ([\w.]+)\[")
# reminders/services/claims.py, at WARNING.
RECOVERED = re.compile(r"recovered expired claims: requeued=(\d+) interrupted=(\d+)")
# reminders/services/dispatch.py, at WARNING.
OUT_OF_TIME = re.compile(r"chunk out of time: (\d+) messages returned unsent")

SEND_TASK = "reminders.tasks.send_messages"
TICK_TASK = "reminders.tasks.dispatch_due_messages"


def sent_ids(text: str, *, first_id: int, last_id: int) -> list[int]:
    """The message ids in ``first_id..last_id`` a worker's log says it handed to the provider."""
    return [pk for pk in map(int, SENT.findall(text)) if first_id <= pk <= last_id]


def tasks_received(text: str) -> Counter:
    """Tasks a worker received, per task name."""
    return Counter(RECEIVED.findall(text))


def tasks_discarded(text: str) -> Counter:
    """Tasks a worker discarded unrun (expired or revoked), per task name."""
    return Counter(DISCARDED.findall(text))


def claims_recovered(text: str) -> int:
    """Claims taken back by lease expiry (requeued and interrupted) that a log reports."""
    return sum(int(a) + int(b) for a, b in RECOVERED.findall(text))


def chunks_out_of_time(text: str) -> int:
    """Messages returned unsent because their chunk ran out of lease time."""
    return sum(int(n) for n in OUT_OF_TIME.findall(text))


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Each one's share of the total (0 each when the total is 0)."""
    total = sum(counts.values())
    return {name: (count / total if total else 0.0) for name, count in counts.items()}


def rate(times: list[float]) -> float:
    """Events a second from the first to the last of ``times``: the events after the first over the span."""
    if len(times) < 2:
        return 0.0
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else 0.0


# -- the sizing arithmetic (README, "Running on several machines") ---------------


def texts_per_second(*, processes: int, threads: int, latency: float) -> float:
    """What worker processes send when the provider's answer is all the time a send takes:
    processes x send threads / latency."""
    return processes * threads / latency


def drain_seconds(*, texts: int, segments_per_text: float, segments_per_second: float) -> float:
    """How long a sender takes to send ``texts``: their segments over its rate."""
    return texts * segments_per_text / segments_per_second


def max_queued(*, processes: int, threads: int, latency: float, lease_seconds: float) -> int:
    """DISPATCH_MAX_QUEUED as the settings advise: what the workers send in half a lease."""
    return max(1, int(texts_per_second(processes=processes, threads=threads, latency=latency) * lease_seconds / 2))


def tasks_expected(*, messages: int, chunk: int) -> int:
    """Send tasks a drain needs at the least: one per whole chunk, ceil(N / chunk)."""
    return math.ceil(messages / chunk)
