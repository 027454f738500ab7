"""
Benchmark data written straight in SQL (generate_series), so a million rows
take seconds. It is scaffolding, not a figure: the bulk enrollment figure goes
through the service instead.
"""

import math
from datetime import datetime

from django.db import connection

from reminders.models import Clinic, Program

WELCOME_STEP = "day00-welcome"
SENT_BODY = ("Bench Spine Clinic: Hi Pat, time for a short walk today. Getting up and moving helps your back "
             "heal. Reply STOP to end, HELP for help.")


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _last_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        return cursor.fetchone()[0]


def enrollments_insert(*, clinic: Clinic, program: Program, count: int, anchor_sql: str) -> tuple[int, int]:
    """``count`` patients with one active enrollment each; returns the enrollments' id range.

    ``anchor_sql`` is the anchor date as SQL over the series number ``g``.
    """
    first_patient = _last_id("reminders_patient") + 1
    _execute(
        """
        INSERT INTO reminders_patient (clinic_id, first_name, last_name, mobile, email, mrn, time_zone, language,
                                       sms_consent, email_consent, discreet, created_at)
        SELECT %(clinic)s, 'Pat', 'Bench ' || g, '+1202' || lpad(g::text, 7, '0'), '', '', '', 'en',
               true, false, false, now()
        FROM generate_series(%(first)s, %(last)s) AS g
        """,
        {"clinic": clinic.pk, "first": first_patient, "last": first_patient + count - 1},
    )
    first_enrollment = _last_id("reminders_enrollment") + 1
    _execute(
        f"""
        INSERT INTO reminders_enrollment (patient_id, program_id, anchor_event, anchor_date, status,
                                          status_reason, enrolled_by_id, created_at)
        SELECT p.id, %(program)s, 'pvp', {anchor_sql}, 'active', '', NULL, now()
        FROM reminders_patient p, LATERAL (SELECT p.id AS g) AS series
        WHERE p.id >= %(first)s
        ORDER BY p.id
        """,
        {"program": program.pk, "first": first_patient},
    )
    return first_enrollment, _last_id("reminders_enrollment")


def due_sms_insert(*, clinic: Clinic, program: Program, count: int, first_due: datetime,
                   spread_seconds: float = 0.0) -> tuple[int, int]:
    """``count`` patients, each with the program's welcome SMS pending, due from ``first_due``
    over ``spread_seconds``; returns the messages' id range."""
    first, last = enrollments_insert(clinic=clinic, program=program, count=count, anchor_sql="current_date")
    step = program.steps.get(key=WELCOME_STEP)
    first_message = _last_id("reminders_message") + 1
    _execute(
        """
        INSERT INTO reminders_message (enrollment_id, step_id, channel, scheduled_at, due_at, status, reason,
                                       cancel_source, attempts, error_code, provider_message_id, subject, body,
                                       updated_at)
        SELECT e.id, %(step)s, 'sms', d.due, d.due, 'pending', '', '', 0, '', '', '', '', now()
        FROM reminders_enrollment e,
             LATERAL (SELECT %(first_due)s::timestamptz
                             + (e.id - %(first)s) * %(gap)s * interval '1 second' AS due) AS d
        WHERE e.id BETWEEN %(first)s AND %(last)s
        """,
        {"step": step.pk, "first_due": first_due, "first": first, "last": last,
         "gap": spread_seconds / max(count - 1, 1)},
    )
    return first_message, _last_id("reminders_message")


def rows_per_enrollment(program: Program) -> int:
    return sum(len(step.channels()) for step in program.steps.all())


def history_insert(*, clinic: Clinic, program: Program, rows: int, future_only: bool = False) -> int:
    """About ``rows`` messages of whole enrollments, as a clinic network accumulates them.

    Enrollments started 30 to 430 days ago, so most of their messages are sent
    or delivered, the rest pending in the coming months; with ``future_only``
    every enrollment starts in the next 30 days and all its messages are pending.
    """
    enrollments = math.ceil(rows / rows_per_enrollment(program))
    anchor = "current_date + 1 + mod(g, 30)::int" if future_only else "current_date - 30 - mod(g, 400)::int"
    first, last = enrollments_insert(clinic=clinic, program=program, count=enrollments, anchor_sql=anchor)
    return _execute(
        """
        INSERT INTO reminders_message (enrollment_id, step_id, channel, scheduled_at, due_at, status, reason,
                                       cancel_source, attempts, error_code, delivered_at, sent_at,
                                       provider_message_id, subject, body, updated_at)
        SELECT e.id, s.id, c.channel, t.due, t.due,
               CASE WHEN t.due >= now() THEN 'pending' WHEN mod(e.id + s.id, 10) = 0 THEN 'sent' ELSE 'delivered' END,
               '', '', CASE WHEN t.due < now() THEN 1 ELSE 0 END, '',
               CASE WHEN t.due < now() AND mod(e.id + s.id, 10) <> 0 THEN t.due + interval '4 seconds' END,
               CASE WHEN t.due < now() THEN t.due + interval '1 second' END,
               CASE WHEN t.due < now() AND c.channel = 'sms' THEN 'SM' || md5(e.id || ':' || s.id) ELSE '' END,
               '', CASE WHEN t.due < now() THEN %(body)s ELSE '' END,
               CASE WHEN t.due < now() THEN t.due + interval '4 seconds' ELSE now() END
        FROM reminders_enrollment e
        JOIN reminders_step s ON s.program_id = e.program_id
        CROSS JOIN LATERAL unnest(CASE s.channel WHEN 'both' THEN ARRAY['sms', 'email']
                                  ELSE ARRAY[s.channel::text] END) AS c(channel)
        CROSS JOIN LATERAL (SELECT ((e.anchor_date + s.offset_days) + s.send_time) AT TIME ZONE 'UTC' AS due) AS t
        WHERE e.id BETWEEN %(first)s AND %(last)s
        """,
        {"body": SENT_BODY, "first": first, "last": last},
    )


def message_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM reminders_message")
        return cursor.fetchone()[0]
