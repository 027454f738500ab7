"""
Settings for the test suite (pytest-django's DJANGO_SETTINGS_MODULE): the
service's own settings with debug on and a key of their own, so that `pytest`
runs on a fresh machine with nothing set. The environment still wins.

pytest-django turns DEBUG off again inside each test; the variable matters for
the defaults derived from it (no HTTPS redirect, plain cookies, no HSTS).
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret-0123456789")

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

# The harness's own tests (tests/harness/) run its commands.
INSTALLED_APPS = [*INSTALLED_APPS, "harness"]
