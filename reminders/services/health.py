"""
Writes for operations: beat's heartbeat, and emails to the operations address
when the service stops working and when it recovers. Counts and states only.
"""

import json
import logging
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from redis import RedisError

from ..redis_client import BEAT_HEARTBEAT_KEY, OPS_ALERT_KEY_PREFIX, get_redis
from ..selectors.health import HealthReport, health_report

logger = logging.getLogger(__name__)

# The checks that email someone. Redis is not among them: the alert memory lives
# there, and without Redis neither beat's task nor the workers run; /healthz and
# `manage.py health` report it.
ALERTED_CHECKS = ("database", "beat", "backlog")


def beat_heartbeat_record(*, now: datetime | None = None) -> bool:
    """Note that a dispatch cycle started now. Never stands in the way of dispatching."""
    now = now or timezone.now()
    try:
        get_redis().set(BEAT_HEARTBEAT_KEY, f"{now.timestamp():.3f}")
    except RedisError as exc:
        logger.warning("dispatch heartbeat not recorded: Redis unreachable (%s)", type(exc).__name__)
        return False
    return True


def _site() -> str:
    return urlsplit(settings.PUBLIC_BASE_URL).netloc or settings.PUBLIC_BASE_URL


def _ops_email(*, subject: str, lines: list[str], report: HealthReport) -> None:
    if not settings.OPS_ALERT_EMAIL:
        logger.warning("ops alert not emailed, OPS_ALERT_EMAIL is not set: %s", subject)
        return
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    body = "\n".join([
        *lines, "",
        f"Service: {base}  (health: {base}/healthz, or `python manage.py health`)", "",
        "The whole report:", json.dumps(report.as_dict(), indent=2),
    ])
    send_mail(subject=f"[{_site()}] {subject}", message=body, from_email=settings.DEFAULT_FROM_EMAIL,
              recipient_list=settings.OPS_ALERT_EMAIL)


def ops_alerts_check(*, report: HealthReport | None = None) -> list[str]:
    """Email the operations address once when a check starts failing, and once when it recovers.

    Redis remembers each open incident (SET NX: one caller wins), so beat's task
    and a cron `manage.py health --alert` running side by side announce it once.
    Returns what was announced, e.g. ["backlog failing", "beat recovered"].
    """
    report = report or health_report()
    client = get_redis()
    announced = []
    for name in ALERTED_CHECKS:
        check, key = report.checks[name], OPS_ALERT_KEY_PREFIX + name
        try:
            if not check.ok:
                if not client.set(key, report.checked_at.isoformat(), nx=True):
                    continue  # announced already
                try:
                    _ops_email(subject=f"ALERT {name}: {check.detail}", report=report, lines=[
                        f"The {name} check is failing since {report.checked_at:%Y-%m-%d %H:%M:%S} UTC:",
                        f"  {check.detail}", "", "One more email follows when it recovers."])
                except Exception:
                    client.delete(key)  # not announced: the next check tries again
                    logger.exception("ops alert for %s could not be emailed", name)
                    continue
                logger.error("ops alert: %s failing: %s", name, check.detail)
                announced.append(f"{name} failing")
            else:
                since = client.get(key)
                if since is None or not client.delete(key):
                    continue  # nothing open, or another checker announced the recovery
                started = datetime.fromisoformat(since.decode())
                minutes = (report.checked_at - started).total_seconds() / 60
                try:
                    _ops_email(subject=f"RECOVERED {name} (after {minutes:.0f} min)", report=report, lines=[
                        f"The {name} check is passing again at {report.checked_at:%Y-%m-%d %H:%M:%S} UTC,",
                        f"after failing since {started:%Y-%m-%d %H:%M:%S} UTC."])
                except Exception:
                    client.set(key, since, nx=True)  # still open: the next check tries again
                    logger.exception("ops recovery note for %s could not be emailed", name)
                    continue
                logger.warning("ops alert: %s recovered after %.0f min", name, minutes)
                announced.append(f"{name} recovered")
        except RedisError as exc:
            logger.error("ops alerts not checked: Redis unreachable (%s)", type(exc).__name__)
            break
    return announced
