"""The goals of the latency and morning burst figures, and what they read from the fake."""

import pytest

from harness.bench.burst import BURST_SENDER, TRICKLE_SENDER, drain_limit, sender_drain
from harness.bench.latency import net_cpu_per_message, rate_goal
from harness.bench.runner import FULL, QUICK, RUNS


@pytest.mark.parametrize(("processes", "threads", "expected"), [(2, 1, 8.5), (2, 8, 68.0), (4, 8, 136.0)])
def test_the_latency_goal_is_a_share_of_every_send_thread_always_waiting_on_an_answer(processes, threads, expected):
    assert rate_goal(processes=processes, threads=threads, mean_latency=0.2) == pytest.approx(expected)
    assert rate_goal(processes=2, threads=8, mean_latency=0.2, share=1.0) == pytest.approx(80.0)


def test_cpu_per_message_leaves_out_what_the_worker_uses_idle_over_the_drain():
    # 3 s of CPU over a 30 s drain of 300 messages, 20 ms a second idle: 2.4 s for the messages.
    assert net_cpu_per_message(cpu_seconds=3.0, idle_per_second=0.02, seconds=30, messages=300) == pytest.approx(0.008)
    assert net_cpu_per_message(cpu_seconds=3.0, idle_per_second=0.0, seconds=30, messages=300) == pytest.approx(0.01)
    # A noisy idle sample never makes a message cost less than nothing.
    assert net_cpu_per_message(cpu_seconds=0.1, idle_per_second=0.5, seconds=30, messages=300) == 0.0


def test_the_drain_may_take_a_tenth_longer_than_the_senders_rate_allows():
    assert drain_limit(segments=10_000, rate=50) == pytest.approx(220.0)
    assert drain_limit(segments=200, rate=25) == pytest.approx(8.8)
    assert drain_limit(segments=200, rate=25, margin=1.0) == pytest.approx(8.0)


def accepted(*, sender, received_at, sent_at, segments=2):
    service = sender if sender.startswith("MG") else None
    return {"messaging_service_sid": service, "from": None if service else sender, "received_at": received_at,
            "sent_at": sent_at, "segments": segments}


def test_a_senders_drain_runs_from_its_first_arrival_to_its_last_text_leaving_the_queue():
    listed = [
        accepted(sender=BURST_SENDER, received_at=100.0, sent_at=100.0),
        accepted(sender=TRICKLE_SENDER, received_at=99.0, sent_at=99.0, segments=1),
        accepted(sender=BURST_SENDER, received_at=100.1, sent_at=100.08, segments=3),
        accepted(sender=BURST_SENDER, received_at=100.2, sent_at=100.2),
        accepted(sender=TRICKLE_SENDER, received_at=104.0, sent_at=104.0, segments=1),
    ]

    burst = sender_drain(listed, sender=BURST_SENDER)
    assert (burst.texts, burst.segments, burst.first_call, burst.last_sent) == (3, 7, 100.0, 100.2)
    assert burst.seconds == pytest.approx(0.2)
    trickle = sender_drain(listed, sender=TRICKLE_SENDER)
    assert (trickle.texts, trickle.segments, trickle.seconds) == (2, 2, 5.0)
    assert sender_drain(listed, sender="+12025550100").texts == 0


def test_the_latency_and_burst_figures_run_in_both_sizes():
    assert {8, 9} <= set().union(*(numbers for numbers, _ in RUNS))
    for key in ("latency_1", "latency_8", "burst_messages", "burst_rate", "burst_trickle"):
        assert QUICK[key] <= FULL[key]
    assert (FULL["burst_messages"], FULL["burst_rate"]) == (5_000, 50.0)
