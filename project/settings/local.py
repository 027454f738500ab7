"""
``make run`` on a developer's machine: debug on and a development key, unless
the environment says otherwise. Everything else is ``base``'s.

Set before ``base`` is read, so that what it derives from debug (plain cookies,
no HTTPS redirect, no HSTS, the demo allowed) follows.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")

from .base import *  # noqa: F403
