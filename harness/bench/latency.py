"""
Figure 8, latency: the fake answers in 200 +- 50 ms, as Twilio does, and the
worker drains the same kind of burst as figure 1 with one send thread per pool
process and then with eight (SMS_SEND_THREADS), side by side in one run. A send
thread waits for its answer without CPU, so the rate should grow with the
threads and the CPU per message should not.
"""

from dataclasses import dataclass

from django.conf import settings

from ..fakes.twilio import FakeTwilioClient
from ..processes import WORKER_CONCURRENCY
from .environment import BenchTarget
from .report import Figure
from .throughput import DrainResult, dispatch_drain

# The fake's latency: a uniform draw between the two, in seconds (Twilio's 150-250 ms).
LATENCY = (0.15, 0.25)
THREADS = (1, 8)
# What share of the ideal rate (every send thread always waiting on an answer) a drain must reach.
RATE_SHARE = 0.85
# How much more CPU a message may cost with eight send threads than with one.
CPU_GROWTH = 1.5
# How long the worker's idle CPU is measured before each drain, in beat intervals.
IDLE_INTERVALS = 2


def rate_goal(*, processes: int, threads: int, mean_latency: float, share: float = RATE_SHARE) -> float:
    """The send rate a drain must reach: ``share`` of ``processes`` x ``threads`` sends always under way,
    each taking ``mean_latency`` seconds."""
    return share * processes * threads / mean_latency


def net_cpu_per_message(*, cpu_seconds: float, idle_per_second: float, seconds: float, messages: int) -> float:
    """The CPU a message cost: what the worker used over ``seconds`` less what it uses idle in that time
    (polling its broker, beat's ticks), which grows with the time a drain takes, not with its messages."""
    return max(cpu_seconds - idle_per_second * seconds, 0.0) / messages


@dataclass
class _Run:
    threads: int
    messages: int
    drained: DrainResult
    accepted: int
    duplicates: int

    @property
    def seconds(self) -> float:
        """From the first provider call to the last status recorded."""
        return self.drained.last_recorded.timestamp() - self.drained.first_call

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_per_message(self) -> float:
        """Above the worker's idle CPU."""
        return net_cpu_per_message(cpu_seconds=self.drained.worker_cpu_seconds,
                                   idle_per_second=self.drained.worker_idle_cpu_per_second,
                                   seconds=self.drained.cpu_window_seconds, messages=self.messages)

    @property
    def raw_cpu_per_message(self) -> float:
        return self.drained.worker_cpu_seconds / self.messages

    @property
    def exactly_once(self) -> bool:
        return (self.drained.statuses == {"sent": self.messages} and self.accepted == self.messages
                and self.duplicates == 0)


def _drain(*, target: BenchTarget, fake: FakeTwilioClient, threads: int, messages: int, interval: float) -> _Run:
    drained = dispatch_drain(target=target, fake=fake, fake_process=None, messages=messages, interval=interval,
                             idle_seconds=IDLE_INTERVALS * interval, SMS_SEND_THREADS=str(threads))
    stats = fake.stats(summary=True)
    return _Run(threads=threads, messages=messages, drained=drained, accepted=stats["accepted"],
                duplicates=stats["duplicates"])


def figure_latency(*, target: BenchTarget, fake: FakeTwilioClient, sizes: dict) -> Figure:
    interval = sizes.get("dispatch_interval") or settings.DISPATCH_INTERVAL_SECONDS
    low, high = LATENCY
    mean_latency = (low + high) / 2
    fake.configure(delay=low, delay_max=high)
    try:
        one, many = (_drain(target=target, fake=fake, threads=threads, messages=sizes[f"latency_{threads}"],
                            interval=interval) for threads in THREADS)
    finally:
        fake.configure(delay=0.0, delay_max=0.0)
    processes = WORKER_CONCURRENCY
    goals = {run.threads: rate_goal(processes=processes, threads=run.threads, mean_latency=mean_latency)
             for run in (one, many)}
    cpu_ratio = many.cpu_per_message / one.cpu_per_message if one.cpu_per_message else float("inf")
    sound = one.exactly_once and many.exactly_once
    met = sound and all(run.rate >= goals[run.threads] for run in (one, many)) and cpu_ratio <= CPU_GROWTH
    ms = 1000

    chunk = settings.DISPATCH_CHUNK_SIZE

    def per_chunk(run: _Run) -> str:
        chunks = -(-run.messages // chunk)
        return (f"{run.seconds * processes / chunks:.2f} s (ideal {chunk * mean_latency / run.threads:.2f} s: "
                f"{chunk} x {mean_latency * ms:.0f} ms / {run.threads})")

    def run_line(run: _Run) -> str:
        return (f"{run.messages:,} due at once: {run.seconds:.1f} s = {run.rate:,.1f} SMS/s "
                f"(goal {goals[run.threads]:,.1f}/s, {run.rate / goals[run.threads]:.2f} of it); "
                f"worker CPU {run.cpu_per_message * ms:.2f} ms per message above idle "
                f"({run.raw_cpu_per_message * ms:.2f} ms in all; idle {run.drained.worker_idle_cpu_per_second * ms:.0f}"
                f" ms/s); statuses {run.drained.statuses}, fake: accepted {run.accepted:,}, duplicates "
                f"{run.duplicates}")

    return Figure(
        number=8, name="Latency",
        result=(f"against answers of {low * ms:.0f}-{high * ms:.0f} ms: {one.rate:,.1f} SMS/s with 1 send thread "
                f"(goal {goals[1]:,.1f}), {many.rate:,.1f} SMS/s with 8 (goal {goals[8]:,.1f}); CPU per message "
                f"with 8 = {cpu_ratio:.2f}x with 1 ({many.cpu_per_message * ms:.2f} / "
                f"{one.cpu_per_message * ms:.2f} ms)"),
        goal=(f"each rate >= {RATE_SHARE} x {processes} processes x send threads / {mean_latency * ms:.0f} ms; "
              f"CPU per message (above idle) with 8 threads <= {CPU_GROWTH}x with 1; every message once"),
        met=met,
        sound=sound,
        notes=["The fake holds every answer for a uniform draw between 150 and 250 ms (mean 200 ms), as "
               "Twilio's API answers. Each run is a burst due at once, drained by one worker (a prefork pool "
               f"of {processes} processes, the processes of the goal) and beat, with SMS_SEND_THREADS=1 and then "
               "8; the rate is taken as in figure 1, from the first provider call to the last status recorded. "
               "The goal's ideal is every send thread of every pool process always waiting on an answer.",
               "The worker's CPU (main process and pool, psutil) is taken over each drain, less what it uses "
               f"idle: measured for {IDLE_INTERVALS} beat intervals before each drain, with beat running and "
               "nothing due, and taken off in proportion to the drain's length. Idle CPU (broker polling, beat's "
               "empty ticks) grows with time, not messages, and would otherwise weigh far more on the "
               "one-thread drain, which takes longer per message; the totals are shown too."],
        details={
            "provider latency (the fake)":
                f"uniform {low * ms:.0f}-{high * ms:.0f} ms, mean {mean_latency * ms:.0f} ms",
            "worker": f"1 worker, prefork pool of {processes}, chunks of {chunk}, "
                      f"claims of {settings.DISPATCH_BATCH_SIZE}, beat every {interval:g} s",
            "1 send thread per process": run_line(one),
            "8 send threads per process": run_line(many),
            "a chunk's time in a pool process, 1 / 8 send threads": f"{per_chunk(one)} / {per_chunk(many)}",
            "rate with 8 threads / with 1": f"{many.rate / one.rate:.2f}x (ideal 8x)",
            "CPU per message above idle, 8 threads / 1": f"{cpu_ratio:.2f}x (in all, idle included: "
                                                          f"{many.raw_cpu_per_message / one.raw_cpu_per_message:.2f}x)",
            "every message sent once (statuses and the fake's counts, both runs)":
                "yes" if sound else f"NO: {one.drained.statuses} / {many.drained.statuses}",
        },
    )
