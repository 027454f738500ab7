"""
Settings for the fracture follow-up service: every setting, with safe defaults.

Every setting that differs between machines comes from the environment through
the one ``env`` object below; the README has a table of them. With debug
switched on (``local``, ``test``) the defaults run the whole service on one
machine with nothing installed (SQLite under ``var/``, console SMS and email);
with it off, as here by default, a secret key is required and cookies, HTTPS
and HSTS take their production values.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local .env file is optional; the real environment always wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# ------------------------------------------------------------------------------
# Off unless switched on: a deployment that forgets the variable must not run with
# the development key, insecure cookies and the demo. `make run` (local.py) and
# the tests (test.py) switch it on.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# A fixed development key is only acceptable while DEBUG is on.
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="dev-only-insecure-key-change-me" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en"
# Dates and times with the zone's abbreviation (project/formats/en/formats.py).
FORMAT_MODULE_PATH = ["project.formats"]
USE_I18N = True
# Where coordinators reach the service; used for links in messages and callbacks.
# The port `make run` serves on; where the service is reached follows it unless set.
WEB_PORT = env.int("WEB_PORT", default=8000)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{WEB_PORT}")

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file: wait for locks instead of failing,
    # and take the write lock at BEGIN so two writers never deadlock on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests run a real Celery worker in a thread: it must see the same database,
    # which an in-memory one does not promise.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    # The admin with the coordinators' site (per-clinic inbox count, dashboard, optional OTP).
    "reminders.apps.FollowupAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Its unaccent lookup for accent-insensitive search (SQLite gets the function in reminders/apps.py).
    "django.contrib.postgres",
    "phonenumber_field",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "reminders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks a user verified by a second factor (used when ADMIN_REQUIRE_OTP is on).
    "django_otp.middleware.OTPMiddleware",
    # A request refused for its own input (a NUL in the query, a filter value that is no
    # id) gets a 400 page that says why; after the user is known, for the admin's frame.
    "reminders.middleware.RefusalMiddleware",
    # The admin shows times in the zone of the user's clinic(s), with its abbreviation.
    "reminders.middleware.ClinicTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records who made each change in the audit history.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Turns a locked-out login into a clear refusal; must come last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# LOGIN SECURITY
# ------------------------------------------------------------------------------
# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
# Lock a user name from one address: one clinic behind one NAT address must not
# lock out its colleagues because someone mistyped a password.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# A second factor (TOTP app or static backup codes, django-otp) for admin logins.
ADMIN_REQUIRE_OTP = env.bool("ADMIN_REQUIRE_OTP", default=False)
OTP_TOTP_ISSUER = "Fracture follow-up"

# AUDIT HISTORY
# ------------------------------------------------------------------------------
# History is for reading: a revert would bypass the services that keep the
# schedule and the consent ledger consistent.
SIMPLE_HISTORY_REVERT_DISABLED = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# PHONE NUMBERS
# ------------------------------------------------------------------------------
# Numbers are stored in E.164; a number typed without a country code is read
# in this region.
PHONENUMBER_DEFAULT_REGION = env("PHONENUMBER_DEFAULT_REGION", default="US")
PHONENUMBER_DB_FORMAT = "E164"

# REDIS AND CELERY
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# A send task is acknowledged only once it has finished, so a worker that dies
# mid-task has it redelivered; the state transition makes the redelivery a no-op.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes a worker's database connections after every task unless told to
# reuse them: a new PostgreSQL connection for every chunk of sends, which cost
# the two a tenth of their CPU (BENCHMARKS.md). Reused, they are kept on
# Django's own terms, as for a web request: CONN_MAX_AGE and a health check
# before their first use in a task (project/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Unacknowledged tasks come back after this; it must exceed the longest send.
    "visibility_timeout": 3600,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The console SMS backend prints to stdout; keep that out of the log stream.
CELERY_WORKER_REDIRECT_STDOUTS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Beat's own tasks (the dispatch tick, settling, health, reconciliation) have a
# queue of their own, so that they never wait behind a backlog of sends: in one
# queue, a tick waited behind 2,000 messages until it expired. A worker started
# without -Q serves every queue below, taking from each in turn (`make run`);
# on several machines, one worker serves beat's queue (`-Q beat`) and the
# others the send queue. Send tasks may have a queue of their own as well
# (`CELERY_SEND_QUEUE`); empty: Celery's default queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
BEAT_QUEUE = env("CELERY_BEAT_QUEUE", default="beat")
SEND_QUEUE = env("CELERY_SEND_QUEUE", default="")
CELERY_TASK_QUEUES = {name: {} for name in dict.fromkeys([CELERY_TASK_DEFAULT_QUEUE, BEAT_QUEUE, SEND_QUEUE]) if name}
CELERY_TASK_ROUTES = {
    **{f"reminders.tasks.{task}": {"queue": BEAT_QUEUE} for task in (
        "dispatch_due_messages", "settle_unknown_messages", "check_health_and_alert", "reconcile_yesterday")},
    **({"reminders.tasks.send_messages": {"queue": SEND_QUEUE}} if SEND_QUEUE else {}),
}

# SCHEDULING
# ------------------------------------------------------------------------------
# How often beat runs a dispatch cycle, and how many due messages one cycle claims.
DISPATCH_INTERVAL_SECONDS = env.float("DISPATCH_INTERVAL_SECONDS", default=5.0)
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=500)
# Claimed message ids are handed to workers in tasks of this many. Each task
# costs a worker a few milliseconds of its own: at 20 that was a quarter of the
# time per message, measured (BENCHMARKS.md).
DISPATCH_CHUNK_SIZE = env.int("DISPATCH_CHUNK_SIZE", default=50)
# A claim or a send not finished within this time is taken back by the next cycle.
CLAIM_LEASE = timedelta(seconds=env.int("CLAIM_LEASE_SECONDS", default=300))
# Backpressure: at most this many claimed messages wait for a worker at once. A cycle
# claims only the room left, so a backlog waits in the database, not in Redis, and no
# claim runs out of lease before a worker takes it. Set it to what the workers send
# well within CLAIM_LEASE (processes x send threads / provider latency x lease / 2).
DISPATCH_MAX_QUEUED = env.int("DISPATCH_MAX_QUEUED", default=2000)
# How often beat asks the provider about messages whose outcome is unknown.
SETTLE_INTERVAL_SECONDS = env.float("SETTLE_INTERVAL_SECONDS", default=60.0)
# How far back a coordinator may date a fracture diagnosis or procedure.
ENROLLMENT_MAX_BACKDATE_DAYS = env.int("ENROLLMENT_MAX_BACKDATE_DAYS", default=30)

CELERY_BEAT_SCHEDULE = {
    "dispatch-due-messages": {
        "task": "reminders.tasks.dispatch_due_messages",
        "schedule": DISPATCH_INTERVAL_SECONDS,
        # A tick that waited longer than one interval is stale: the next one covers it.
        "options": {"expires": DISPATCH_INTERVAL_SECONDS},
    },
    "settle-unknown-messages": {
        "task": "reminders.tasks.settle_unknown_messages",
        "schedule": SETTLE_INTERVAL_SECONDS,
        "options": {"expires": SETTLE_INTERVAL_SECONDS},
    },
    "check-health-and-alert": {
        "task": "reminders.tasks.check_health_and_alert",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # Yesterday's reconciliation. At 12:00 UTC yesterday has ended in every time zone.
    "reconcile-yesterday": {
        "task": "reminders.tasks.reconcile_yesterday",
        "schedule": crontab(hour=env.int("RECONCILE_HOUR_UTC", default=12), minute=15),
    },
}

# HEALTH AND OPERATIONS ALERTS
# ------------------------------------------------------------------------------
# Unhealthy when no dispatch cycle started for this long (beat runs one every
# DISPATCH_INTERVAL_SECONDS), or when a due message has waited this long unsent.
HEALTH_BEAT_MAX_AGE_SECONDS = env.int("HEALTH_BEAT_MAX_AGE_SECONDS", default=180)
HEALTH_BACKLOG_MAX_AGE_SECONDS = env.int("HEALTH_BACKLOG_MAX_AGE_SECONDS", default=600)
# Who is emailed when a check starts failing and when it recovers (comma-separated).
OPS_ALERT_EMAIL = env.list("OPS_ALERT_EMAIL", default=[])

# SMS AND EMAIL
# ------------------------------------------------------------------------------
# console, locmem, twilio, or a dotted path to a backend class.
SMS_BACKEND = env("SMS_BACKEND", default="console")
# How many times an SMS is tried when the provider's answer says "try again",
# and the first wait (doubled each time, with jitter, at most SMS_RETRY_MAX_SECONDS).
SMS_MAX_ATTEMPTS = env.int("SMS_MAX_ATTEMPTS", default=5)
SMS_RETRY_BASE_SECONDS = env.int("SMS_RETRY_BASE_SECONDS", default=30)
SMS_RETRY_MAX_SECONDS = env.int("SMS_RETRY_MAX_SECONDS", default=3600)
# A message whose outcome is unknown (a timeout after sending) is looked up at
# the provider after this long, if no status callback settled it first.
UNKNOWN_SETTLE_AFTER_SECONDS = env.int("UNKNOWN_SETTLE_AFTER_SECONDS", default=600)
# A check-in answer counts for the last check-in sent within this many days.
CHECKIN_REPLY_WINDOW_DAYS = env.int("CHECKIN_REPLY_WINDOW_DAYS", default=7)

# SMS a worker process has under way at once, each on a thread of its own, a
# patient's own messages still one after the other, in order. One at a time, a
# worker process sends about 5 a second against Twilio's answers of about 200
# ms, which is more than a long-code sender's allowance (1 a second). Raise it
# for a sender allowed more; against a fast provider (the benchmark's fake),
# threads only add CPU: 0.56 -> 0.82 ms a message at 4, measured.
SMS_SEND_THREADS = env.int("SMS_SEND_THREADS", default=1)

# Segments per second per sender (number or messaging service), as the provider
# counts a sender's rate (a long code about 1, a toll-free number about 3): a text
# of two segments counts two. Shared by every worker through a token bucket in
# Redis (REDIS_URL); 0 means no limit.
SMS_RATE_PER_SECOND = env.float("SMS_RATE_PER_SECOND", default=0.0)

# TWILIO
# ------------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
# The sender: a number, or a messaging service (which wins when both are set).
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
# Any Twilio-compatible server (a staging double, a contract-test mock).
TWILIO_API_URL = env("TWILIO_API_URL", default="https://api.twilio.com")
# The SDK waits forever by default; a worker must not.
TWILIO_CONNECT_TIMEOUT = env.float("TWILIO_CONNECT_TIMEOUT", default=5.0)
TWILIO_READ_TIMEOUT = env.float("TWILIO_READ_TIMEOUT", default=15.0)

# PROXY
# ------------------------------------------------------------------------------
# Behind a TLS-terminating proxy, webhook signatures are computed over the URL
# Twilio called (https://public-host/...). Opt in to reading the scheme and host
# from X-Forwarded-Proto and X-Forwarded-Host only when the proxy sets them and
# clients cannot.
TRUST_PROXY_HEADERS = env.bool("TRUST_PROXY_HEADERS", default=False)
if TRUST_PROXY_HEADERS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# HTTPS AND COOKIES
# ------------------------------------------------------------------------------
# On by default whenever DEBUG is off (`manage.py check --deploy` is clean);
# each can be set from the environment. Behind a TLS-terminating proxy,
# SECURE_SSL_REDIRECT needs TRUST_PROXY_HEADERS, or every request looks like
# plain HTTP and is redirected forever.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# A load balancer's probe may ask over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Browsers remember HSTS for this long: a year once in production.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is hard to undo and only the domain's owner can decide it: off
# unless asked for, and check --deploy's reminder about it is silenced meanwhile.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Origins allowed to POST to the admin when they differ from the host (scheme included).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
EMAIL_BACKEND = env(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="followup@localhost")

# BULK ENROLLMENT
# ------------------------------------------------------------------------------
# Limits of one CSV file (admin upload and `enroll_csv`): every row is checked
# and enrolled in one transaction, so keep a file to a clinic's batch.
CSV_IMPORT_MAX_BYTES = env.int("CSV_IMPORT_MAX_BYTES", default=1024 * 1024)
CSV_IMPORT_MAX_ROWS = env.int("CSV_IMPORT_MAX_ROWS", default=2000)

# DEMO
# ------------------------------------------------------------------------------
# Password of the demo logins made by `python manage.py seed_demo`.
DEMO_PASSWORD = env("DEMO_PASSWORD", default="demo-pass-123")

# LOGGING
# ------------------------------------------------------------------------------
# Log lines name ids and states, never patient names, numbers or message text.
# Whatever a library logs, the handler blots out phone numbers and email
# addresses (reminders/log_filters.py); add that filter to any handler you add.
# Django's own logging defaults give "django", "django.server" (runserver's
# access lines) and "py.warnings" handlers of their own, without that filter:
# here they have none and write through ours.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_contact_details": {"()": "reminders.log_filters.RedactContactDetails"},
        "drop_query_strings": {"()": "reminders.log_filters.DropQueryStrings"},
        "quiet_beat_ticks": {"()": "reminders.log_filters.QuietBeatTicks"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "filters": ["redact_contact_details", "quiet_beat_ticks"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # An admin search is in the request line's query string, names too, which no
        # pattern recognises: access lines lose their query strings.
        "django.server": {"handlers": [], "filters": ["drop_query_strings"], "level": "INFO", "propagate": True},
        "py.warnings": {"handlers": [], "propagate": True},
        # The SDK logs request URLs and query parameters (phone numbers) at INFO.
        "twilio.http_client": {"level": "WARNING"},
        # Its DEBUG lines carry request URLs, and a lookup's URL carries a number.
        "urllib3": {"level": "WARNING"},
        # With DEBUG on, SQL is logged with its parameters: names, numbers, texts.
        "django.db.backends": {"level": "INFO"},
    },
}
