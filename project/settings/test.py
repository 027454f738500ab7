"""
Settings for the test suite (pytest-django's DJANGO_SETTINGS_MODULE): the
service's own settings with debug on and a key of their own, so that `pytest`
runs on a fresh machine with nothing set. The environment still wins for those.

pytest-django turns DEBUG off again inside each test; the variable matters for
the defaults derived from it (no HTTPS redirect, plain cookies, no HSTS).

After ``base``: what every test needs, whatever the environment (or a developer's
.env) says. A test that needs something else says so with pytest-django's
``settings`` fixture. The test Redis is found at run time (tests/conftest.py).
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret-0123456789")

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

# The harness's own tests (tests/harness/) run its commands.
INSTALLED_APPS = [*INSTALLED_APPS, "harness"]

# The small message templates of the tests (tests/templates/messages/<language>/test/...),
# beside the real ones.
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "tests" / "templates"]  # noqa: F405

# A real hasher costs about 0.2 s per user on a small machine; tests need none of its strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Texts are kept in memory (reminders.backends.sms.locmem.outbox), never sent.
SMS_BACKEND = "locmem"

# Tasks queued by the code under test run in-process; a test that starts a real
# worker switches this off for its duration (tests/test_tasks.py).
CELERY_TASK_ALWAYS_EAGER = True
