"""The Coordinator group: least privilege, kept as data and re-applied idempotently.

Which clinic's rows a coordinator reaches is not a permission: it comes from
their Coordinator rows (see ``reminders.selectors.clinic_scoping``). The group only says
what kind of thing they may look at or change.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

COORDINATOR_GROUP = "Coordinator"

# Model -> actions. No delete anywhere: records of care are cancelled, not erased.
# Clinics and programs are read-only (clinical settings are signed off by the
# clinic's physician and changed by an administrator); messages, replies,
# answers and the consent ledger are written by the service, never by hand.
COORDINATOR_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "clinic": ("view",),
    "patient": ("view", "add", "change"),
    "enrollment": ("view", "add", "change"),
    "message": ("view",),
    "consentevent": ("view",),
    "inboundmessage": ("view",),
    "checkinanswer": ("view",),
    "escalation": ("view", "change"),
    "program": ("view",),
    "step": ("view",),
}


def coordinator_permission_codenames() -> set[str]:
    return {
        f"{action}_{model}" for model, actions in COORDINATOR_PERMISSIONS.items() for action in actions
    }


def coordinator_group_ensure(*, apps=global_apps, using: str = DEFAULT_DB_ALIAS):
    """Create the Coordinator group, or reset it to exactly its permissions.

    Runs from the data migration (with the historical ``apps``) and from the demo;
    running it again changes nothing.
    """
    app_config = apps.get_app_config("reminders")
    # On a new database permissions are made after all migrations; make ours now.
    # A historical app config has no models module, which create_permissions needs.
    had_module = getattr(app_config, "models_module", None)
    app_config.models_module = had_module or True
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = had_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=COORDINATOR_GROUP)
    wanted = Permission.objects.using(using).filter(
        content_type__app_label="reminders", codename__in=coordinator_permission_codenames()
    )
    group.permissions.set(wanted)
    return group
