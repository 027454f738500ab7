"""
The scenarios' PostgreSQL database: migrated once per run into a template,
cloned fresh for every scenario, and used by this process for planning and checking.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import environ
from django.core.management import call_command
from django.db import connections

from reminders.services.programs import programs_load

from ..processes import database_recreate, maintenance_connection

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/chaos"
# The harness drops and recreates its database: refuse any other.
REQUIRED_PREFIX = "chaos"


class ChaosDatabaseError(Exception):
    pass


def database_config(*, url: str) -> dict:
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ChaosDatabaseError("the fault scenarios need PostgreSQL (row locks, pg_terminate_backend)")
    if not config["NAME"].startswith(REQUIRED_PREFIX):
        raise ChaosDatabaseError(
            f"the fault scenarios drop and recreate their database; its name must begin with "
            f"{REQUIRED_PREFIX!r}, not {config['NAME']!r}")
    return config


def database_url(*, config: dict, name: str) -> str:
    auth = config["USER"] + (f":{config['PASSWORD']}" if config.get("PASSWORD") else "")
    return f"postgres://{auth}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{name}"


def database_version(*, config: dict) -> str:
    with maintenance_connection(url=database_url(config=config, name=config["NAME"])) as admin:
        return admin.info.parameter_status("server_version") or "?"


@contextmanager
def database_use(*, config: dict, name: str) -> Iterator[None]:
    """Point this process's default connection at the database ``name``, then back.

    The services plan and cancel through the default connection, so they work
    on the scenario's database unchanged.
    """
    previous_connection = connections["default"]
    previous_settings = connections.settings["default"]
    previous_connection.close()
    chosen = {**config, "NAME": name, "CONN_MAX_AGE": None, "CONN_HEALTH_CHECKS": False,
              "ATOMIC_REQUESTS": False}
    connections.settings["default"] = connections.configure_settings({"default": chosen})["default"]
    del connections["default"]
    try:
        yield
    finally:
        connections["default"].close()
        connections.settings["default"] = previous_settings
        connections["default"] = previous_connection


def template_prepare(*, config: dict, name: str) -> None:
    """A database migrated and loaded with the programs, to clone for every scenario."""
    database_recreate(url=database_url(config=config, name=name), required_prefix=REQUIRED_PREFIX)
    with database_use(config=config, name=name):
        call_command("migrate", interactive=False, verbosity=0)
        programs_load()


def database_connections_cut() -> int:
    """Terminate every other connection to this process's database; returns how many.

    Only the scenario's own database: the query names it, and keeps the caller's connection.
    """
    name = connections["default"].settings_dict["NAME"]
    if not name.startswith(REQUIRED_PREFIX):
        raise ChaosDatabaseError(f"refusing to cut the connections to {name!r}")
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        return cursor.fetchone()[0]
