"""What figures 10 and 11 read from the workers' logs, and the sizing arithmetic they check."""

import pytest

from harness.bench import logs

SEND_LOG = """\
2026-12-02 18:49:30,778 INFO celery.worker.strategy Task reminders.tasks.send_messages[bd79ea1c-6aff] received
2026-12-02 18:49:30,901 INFO reminders.services.send_outcomes message 12 sent via sms
2026-12-02 18:49:31,002 INFO reminders.services.send_outcomes message 13 sent via sms
2026-12-02 18:49:31,100 INFO reminders.services.send_outcomes message 99 sent via email
2026-12-02 18:49:31,200 INFO reminders.services.send_outcomes message 400 sent via sms
2026-12-02 18:49:32,000 WARNING reminders.services.dispatch chunk out of time: 7 messages returned unsent
2026-12-02 18:49:33,778 INFO celery.worker.strategy Task reminders.tasks.send_messages[ea25ecb1-7a3e] received
"""
BEAT_LOG = """\
2026-12-02 18:50:01,000 WARNING reminders.services.claims recovered expired claims: requeued=50 interrupted=2
2026-12-02 18:50:02,000 INFO celery.worker.request Discarding revoked task: reminders.tasks.dispatch_due_messages[0f1e]
2026-12-02 18:50:06,000 WARNING reminders.services.claims recovered expired claims: requeued=3 interrupted=0
"""


def test_the_texts_a_worker_sent_are_its_sms_lines_within_the_range():
    assert logs.sent_ids(SEND_LOG, first_id=10, last_id=100) == [12, 13]
    assert logs.sent_ids(SEND_LOG, first_id=1, last_id=1000) == [12, 13, 400]


def test_tasks_received_and_discarded_are_counted_per_task():
    assert logs.tasks_received(SEND_LOG) == {logs.SEND_TASK: 2}
    assert logs.tasks_discarded(BEAT_LOG) == {logs.TICK_TASK: 1}
    assert logs.tasks_discarded(SEND_LOG) == {}


def test_claims_taken_back_and_chunks_out_of_time_add_up():
    assert logs.claims_recovered(BEAT_LOG) == 55
    assert logs.claims_recovered(SEND_LOG) == 0
    assert logs.chunks_out_of_time(SEND_LOG) == 7


def test_shares_and_rates():
    assert logs.shares({"a": 30, "b": 70}) == {"a": 0.3, "b": 0.7}
    assert logs.shares({"a": 0, "b": 0}) == {"a": 0.0, "b": 0.0}
    assert logs.rate([10.0, 10.5, 11.0, 12.0]) == pytest.approx(1.5)
    assert logs.rate([3.0]) == 0.0


def test_the_sizing_formulas():
    # Two pool processes, one send thread each, against 200 ms: 10 texts a second.
    assert logs.texts_per_second(processes=2, threads=1, latency=0.2) == pytest.approx(10)
    assert logs.texts_per_second(processes=2, threads=8, latency=0.2) == pytest.approx(80)
    # 50,000 texts of 2 segments from a long code at 1 segment a second: 100,000 s.
    assert logs.drain_seconds(texts=50_000, segments_per_text=2, segments_per_second=1) == 100_000
    # What the workers send in half a lease.
    assert logs.max_queued(processes=2, threads=1, latency=0.02, lease_seconds=10) == 500
    assert logs.max_queued(processes=1, threads=1, latency=100, lease_seconds=1) == 1
    assert logs.tasks_expected(messages=1_001, chunk=50) == 21
    assert logs.tasks_expected(messages=1_000, chunk=50) == 20
