"""
A safety net for log output: phone numbers and email addresses are blotted out
of every line, whichever library wrote it.

The service's own log lines carry ids, states and counts, never patient data.
Libraries are another matter: at INFO the Twilio SDK logs a lookup's query
parameters (the patient's number), at DEBUG urllib3 logs URLs with them, and an
exception's text may quote a number. This filter sits on the handler, so it
covers them all, tracebacks included. Names and message text cannot be
recognised by a pattern: the code keeps those out of logs.

The web server's access lines are another source: a request line carries the
query string, and an admin search puts whatever was searched for there, names
included. Those lines lose their query strings (DropQueryStrings, on the
``django.server`` logger).
"""

import logging
import re

# E.164 as sent to Twilio, also URL-encoded (%2B): long digit runs after a plus.
PHONE = re.compile(r"(?:\+|%2[Bb])\d{7,15}\b")
EMAIL = re.compile(r"[\w.+'-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    return EMAIL.sub("[email]", PHONE.sub("[number]", text))


class RedactContactDetails(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# From a query string's "?" to the request line's protocol, or to the end: a
# malformed request line is logged whole, with spaces inside its query.
QUERY_STRING = re.compile(r"\?.*?(?=\s+HTTP/\d|$)", re.DOTALL)


def drop_query_strings(text: str) -> str:
    return QUERY_STRING.sub("?[query]", text)


class DropQueryStrings(logging.Filter):
    """For access lines: "GET /admin/reminders/patient/?q=Okafor HTTP/1.1"
    -> "GET /admin/reminders/patient/?[query] HTTP/1.1"."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        dropped = drop_query_strings(message)
        if dropped != message:
            record.msg, record.args = dropped, None
        return True


# Beat's own tasks run every few seconds; their lines say nothing unless something is wrong.
BEAT_TICK_TASKS = ("dispatch_due_messages", "settle_unknown_messages", "check_health_and_alert")
# Celery's "Task ... received", "Task ... succeeded" and beat's "Sending due task" lines.
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")


class QuietBeatTicks(logging.Filter):
    """Celery's INFO lines about beat's periodic tasks only at DEBUG (LOG_LEVEL=DEBUG); the same lines
    for send tasks, and anything at WARNING or above, always pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith(CELERY_TASK_LOGGERS):
            return True
        if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        message = record.getMessage()
        return not any(task in message for task in BEAT_TICK_TASKS)
