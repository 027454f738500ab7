"""
The benchmarks of issues 6 and 15: nine figures measured side by side in one
run, on PostgreSQL, Redis, real Celery worker and beat processes and the Twilio
fake (figure 8, latency, and 9, the morning burst, from issue 15).

``python manage.py bench`` runs them (``--quick`` for the CI smoke mode);
``runner.benchmarks_run`` is the entry point, one module per figure.
"""
