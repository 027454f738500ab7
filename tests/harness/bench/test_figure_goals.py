"""The goals of the production path (figure 12) and of the flat scan (figure 3), and what figure 3
reads from a plan."""

import pytest

from harness.bench.production import production_goal_met
from harness.bench.runner import FULL, QUICK, RUNS
from harness.bench.scan import claim_flat, plan_figures


def test_a_claim_five_times_slower_on_the_big_table_fails_the_scan_goal():
    assert not claim_flat(small_ms=0.20, large_ms=1.00, uses_index=True)
    assert not claim_flat(small_ms=0.20, large_ms=0.25, uses_index=True)  # 1.25x
    assert claim_flat(small_ms=0.20, large_ms=0.24, uses_index=True)  # 1.2x
    assert claim_flat(small_ms=0.20, large_ms=0.10, uses_index=True)
    # Flat but not over the index of unsent rows: not met either.
    assert not claim_flat(small_ms=0.20, large_ms=0.20, uses_index=False)


def test_the_claims_time_and_buffers_are_read_from_its_plan():
    plan = """Limit  (cost=0.85..203.11 rows=100 width=22) (actual time=0.031..1.412 rows=100 loops=1)
  Buffers: shared hit=2134 read=12
  ->  LockRows  (cost=0.85..291617.55 rows=144366 width=22) (actual time=0.030..1.396 rows=100 loops=1)
        Buffers: shared hit=2134 read=12
Planning:
  Buffers: shared hit=8
Planning Time: 0.210 ms
Execution Time: 1.455 ms"""
    assert plan_figures(plan) == (1.455, 2146)


def the_goal(**changes):
    given = {"rate_without": 60.0, "rate_with": 50.0, "callback_p99_ms": 80.0,
             "statuses": {"delivered": 200}, "messages": 200, "duplicates": 0, **changes}
    return production_goal_met(**given)


def test_the_production_path_holds_when_callbacks_cost_little_and_are_answered_quickly():
    assert the_goal()
    assert the_goal(rate_with=42.0, callback_p99_ms=100.0)  # exactly 0.7 of the rate, and 100 ms


@pytest.mark.parametrize("changes", [
    {"rate_with": 41.9},  # callbacks cost more than 30 % of the send rate
    {"callback_p99_ms": 101.0},
    {"callback_p99_ms": None},  # no callback was timed
    {"statuses": {"delivered": 199, "sent": 1}},  # a text not delivered
    {"duplicates": 1},
])
def test_the_production_path_fails_on_any_of_its_goals(changes):
    assert not the_goal(**changes)


def test_the_production_path_and_the_churn_run_in_both_sizes():
    assert {12} in [numbers for numbers, _ in RUNS]
    for key in ("production_messages", "scan_churn"):
        assert 0 < QUICK[key] <= FULL[key]
    # Each pool process gets a chunk at least, so that both send.
    assert QUICK["production_messages"] >= 100
    # The small table has the rows the churn takes each round.
    assert QUICK["scan_churn"] < QUICK["scan_small"] - QUICK["scan_due"]
    assert FULL["scan_churn"] < FULL["scan_small"] - FULL["scan_due"]
