"""
``make bench`` and ``make chaos``: the service's own settings (``base``) and the
harness app, which brings the ``bench`` and ``chaos`` commands. The processes
the harness starts (workers, beat, web) run ``base``, as in production.
"""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "harness"]
