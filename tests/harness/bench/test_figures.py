"""The goals of the latency figure."""

import pytest

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


def test_the_latency_figure_runs_in_both_sizes():
    assert 8 in set().union(*(numbers for numbers, _ in RUNS))
    for key in ("latency_1", "latency_8"):
        assert QUICK[key] <= FULL[key]
