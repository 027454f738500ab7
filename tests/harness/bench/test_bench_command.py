"""The benchmark command refuses any database or Redis it must not wipe, and reports in three forms."""

import json

import pytest
from django.core.management import CommandError, call_command

from harness.bench.report import Figure, Report, markdown, table

MACHINE = {"cpu": "AMD EPYC", "cores": 2, "memory_gb": 23.5, "os": "Linux", "python": "3.11.7",
           "postgresql": "15.20", "redis": "7.0.15", "django": "5.2", "celery": "5.7", "twilio": "9.13",
           "commit": "abc1234", "date": "2026-11-24 20:00 UTC"}


def test_it_refuses_sqlite_and_the_test_database(settings):
    # The suite runs on SQLite or on a database named "test_...": neither may be wiped.
    with pytest.raises(CommandError, match=r"PostgreSQL|must start with 'bench'"):
        call_command("bench", "--quick")


@pytest.mark.parametrize(
    ("name", "broker", "refused"),
    [("bench", "redis://127.0.0.1:6379/12", ""), ("test", "redis://127.0.0.1:6379/12", "must start with 'bench'"),
     ("test_wt_bench", "redis://127.0.0.1:6379/12", "must start with 'bench'"),
     ("bench", "redis://127.0.0.1:6379/15", "db 15"), ("bench", "redis://127.0.0.1:6379", "db 0")],
)
def test_only_a_bench_database_and_a_redis_db_of_its_own_are_accepted(name, broker, refused):
    from harness.bench.environment import BenchRefused, target_check

    database = {"ENGINE": "django.db.backends.postgresql", "NAME": name}
    url = f"postgres://postgres@127.0.0.1:5432/{name}"
    if refused:
        with pytest.raises(BenchRefused, match=refused):
            target_check(database=database, database_url=url, redis_url=broker)
    else:
        assert target_check(database=database, database_url=url, redis_url=broker).database_url == url


def report(busy=False):
    return Report(quick=False, machine=MACHINE, load_before=[3.0 if busy else 0.2, 0.5, 0.4],
                  load_after=[0.3, 0.5, 0.4], seconds=300, figures=[
                      Figure(number=2, name="Timeliness", result="p99 4.9 s", goal="p99 <= 10 s", met=True,
                             details={"p50": "2.5 s"}),
                      Figure(number=1, name="Dispatch throughput", result="900 SMS/s | fast", goal=">= 0.6",
                             met=False, details={"plan": "Index Scan using x"}),
                  ])


def test_the_report_as_a_table_markdown_and_json():
    lines = table(report()).splitlines()
    assert lines[0].split() == ["#", "figure", "result", "goal", "met"]
    assert lines[2].startswith("1  Dispatch throughput") and lines[2].endswith("NO")

    text = markdown(report(), command="make bench")
    assert "| CPU | AMD EPYC, 2 cores |" in text
    assert "| 1 | Dispatch throughput | 900 SMS/s \\| fast | >= 0.6 | NO |" in text
    assert "```\nIndex Scan using x\n```" in text
    assert "busy" not in text

    data = json.loads(json.dumps(report().as_dict()))
    assert [f["number"] for f in data["figures"]] == [1, 2]
    assert data["figures"][1] | {"goal": "p99 <= 10 s", "met": True} == data["figures"][1]
    assert data["all_met"] is False


def test_a_busy_machine_is_said_so():
    assert "**The machine was busy**" in markdown(report(busy=True), command="make bench")


def test_a_full_run_fails_when_a_goal_is_missed_and_a_quick_one_does_not():
    assert report().failure() == "figure(s) [1]: goal not met (see above)"
    quick = report()
    quick.quick = True
    assert quick.failure() == ""  # speed goals are not judged on the CI smoke run's sizes
    met = report()
    met.figures[1].met = True
    assert met.failure() == ""


def test_a_run_fails_on_an_unmeasured_or_unsound_figure_whatever_its_speed():
    def quick_report():
        made = report()
        made.quick = True
        return made

    assert quick_report().failure() == ""
    unsound = quick_report()
    unsound.figures[0].sound = False  # met, yet a message went twice (or was lost, or went early)
    assert unsound.failure() == "figure(s) [2]: messages sent twice, lost or early, or the work not done (see above)"
    broken = quick_report()
    broken.figures[1].met = None
    assert broken.failure() == "figure(s) [1] could not be measured (see above)"
