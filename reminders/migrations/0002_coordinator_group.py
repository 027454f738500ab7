"""The Coordinator group with least privilege, as it was when this migration was written.

A migration keeps its own copy of the data rather than importing the live service
(reminders.services.coordinator_group): a later change there must not change what
this step did. A later change of the group's permissions comes with a migration of
its own.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

COORDINATOR_GROUP = "Coordinator"
COORDINATOR_PERMISSIONS = {
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


def coordinator_group_create(apps, schema_editor):
    using = schema_editor.connection.alias
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
    codenames = {f"{action}_{model}" for model, actions in COORDINATOR_PERMISSIONS.items() for action in actions}
    group.permissions.set(Permission.objects.using(using).filter(content_type__app_label="reminders",
                                                                 codename__in=codenames))


def coordinator_group_delete(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=COORDINATOR_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(coordinator_group_create, coordinator_group_delete),
    ]
