"""The Coordinator group with least privilege (see reminders.services.access)."""

from django.db import migrations

from reminders.services.access import COORDINATOR_GROUP, coordinator_group_ensure


def coordinator_group_create(apps, schema_editor):
    coordinator_group_ensure(apps=apps, using=schema_editor.connection.alias)


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
