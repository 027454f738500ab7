import logging
import os

from celery import Celery
from celery.signals import after_setup_logger, task_postrun, task_prerun

# Set the default Django settings module for the 'celery' program.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.base")

app = Celery("project")

# All Celery settings live in Django settings with a CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")

# Load task modules from all registered Django apps.
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **kwargs) -> None:
    """What Django does around a web request: drop connections past CONN_MAX_AGE
    or broken, and check the others before their next use (CONN_HEALTH_CHECKS)."""
    if task is not None and getattr(task.request, "is_eager", False):
        return  # a task run inline belongs to its caller's connection and transaction
    from django.db import close_old_connections

    close_old_connections()


@after_setup_logger.connect
def quiet_beat_ticks(logger=None, **kwargs) -> None:
    """Celery sets up the root logger itself: keep the service's filters on its handlers
    (no contact details; beat's periodic task lines only at DEBUG)."""
    from reminders.log_filters import QuietBeatTicks, RedactContactDetails

    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(RedactContactDetails())
        handler.addFilter(QuietBeatTicks())
