"""
The benchmarks of issue 6: seven figures measured side by side in one run, on
PostgreSQL, Redis, real Celery worker and beat processes and the Twilio fake.

``python manage.py bench`` runs them (``--quick`` for the CI smoke mode);
``runner.benchmarks_run`` is the entry point, one module per figure.
"""
