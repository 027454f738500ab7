"""
Fault scenarios: the whole service on real processes, one fault at a time.

Each scenario clones a freshly migrated PostgreSQL database, starts its own
Redis server, the fake Twilio server, a web server for status callbacks, Celery
workers and beat as subprocesses, plans due messages, injects its fault, waits
for everything to settle and checks the invariants (``invariants.py``). The
table of scenarios is in ``scenarios.py``; ``python manage.py chaos`` runs them.
"""
