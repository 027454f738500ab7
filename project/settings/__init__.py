"""
The service's settings, the cookiecutter-django way:

- ``base``: every setting, each from the environment through one ``env``
  object, with safe defaults: debug off, a secret key required. What
  production runs, and the default of manage.py, the WSGI app and Celery.
- ``local``: ``make run`` on a developer's machine: debug on, a development key.
- ``test``: the test suite (pytest-django's ``DJANGO_SETTINGS_MODULE``), with the harness app.
- ``harness``: ``make bench`` and ``make chaos``: ``base`` and the harness app
  (the ``bench`` and ``chaos`` commands), never installed in production.

The environment always wins over what ``local`` and ``test`` set.
"""
