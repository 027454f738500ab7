"""Migrations that change data, run on a database holding what the older code wrote."""

from datetime import date, time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.moments import utc

BEFORE = ("reminders", "0006_message_indexes_at_scale")
AFTER = ("reminders", "0007_escalation_one_open_per_kind_drop_delivery")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def before_0007(transactional_db):
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("reminders")[0])


def test_0007_records_check_in_steps_and_closes_duplicates_the_races_opened(before_0007):
    apps = before_0007
    model = apps.get_model
    clinic = model("reminders", "Clinic").objects.create(name="Riverside", phone="+12025550143")
    patient = model("reminders", "Patient").objects.create(clinic=clinic, first_name="A", last_name="B",
                                                           mobile="+12025550101")
    program = model("reminders", "Program").objects.create(slug="p", name="P", kind="after_procedure")
    pain, specialist = (model("reminders", "Step").objects.create(
        program=program, key=key, offset_days=day, send_time=time(10, 0), channel="sms", topic="pain",
        template="test/hello") for key, day in [("pain", 3), ("specialist", 7)])
    enrollment = model("reminders", "Enrollment").objects.create(patient=patient, program=program,
                                                                 anchor_event="pvp", anchor_date=date(2026, 6, 2))
    Escalation = model("reminders", "Escalation")

    def escalation(kind, step=None, **fields):
        inbound = model("reminders", "InboundMessage").objects.create(
            provider_message_id=f"SM{Escalation.objects.count():032d}", from_number="+12025550101")
        if step is not None:
            model("reminders", "CheckInAnswer").objects.create(enrollment=enrollment, step=step, inbound=inbound,
                                                               value="8")
        return Escalation.objects.create(clinic=clinic, patient=patient, enrollment=enrollment, inbound=inbound,
                                         kind=kind, summary=f"{kind} escalation", **fields).pk

    acknowledged = escalation("red_flag", acknowledged_at=utc(2026, 6, 1))
    red_flags = [escalation("red_flag"), escalation("red_flag")]
    pain_checks = [escalation("check_in", pain), escalation("check_in", pain)]
    specialist_check = escalation("check_in", specialist)

    apps = migrate(AFTER)

    rows = {e.pk: e for e in apps.get_model("reminders", "Escalation").objects.all()}
    open_ = {pk for pk, e in rows.items() if e.acknowledged_at is None}
    assert open_ == {red_flags[0], pain_checks[0], specialist_check}
    for first, duplicate in (red_flags, pain_checks):
        assert rows[duplicate].acknowledged_by_id is None
        assert rows[duplicate].summary.startswith(f"Closed as a duplicate of escalation {first}. ")
    assert rows[acknowledged].summary == "red_flag escalation"
    assert [rows[pk].step_id for pk in [*pain_checks, specialist_check, *red_flags]] == [
        pain.pk, pain.pk, specialist.pk, None, None]
