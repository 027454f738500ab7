from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Fracture follow-up"


class FollowupAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the coordinators' site as ``admin.site``."""

    default = False
    default_site = "reminders.admin_site.FollowupAdminSite"
