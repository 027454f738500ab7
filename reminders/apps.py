from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.db.backends.signals import connection_created


def _sqlite_functions(sender, connection, **kwargs) -> None:
    """PostgreSQL's UNACCENT on SQLite, so accent-insensitive searches run on both."""
    if connection.vendor == "sqlite":
        from .search_text import unaccent

        connection.connection.create_function("UNACCENT", 1, unaccent, deterministic=True)


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Fracture follow-up"

    def ready(self) -> None:
        connection_created.connect(_sqlite_functions, dispatch_uid="reminders_sqlite_functions")


class FollowupAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the coordinators' site as ``admin.site``."""

    default = False
    default_site = "reminders.admin_site.FollowupAdminSite"
