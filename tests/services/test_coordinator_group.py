import importlib

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from reminders.services.coordinator_group import (
    COORDINATOR_GROUP,
    coordinator_group_ensure,
    coordinator_permission_codenames,
)


def group_codenames() -> set[str]:
    return set(Group.objects.get(name=COORDINATOR_GROUP).permissions.values_list("codename", flat=True))


def test_the_migration_made_the_group_with_least_privilege(db):
    codenames = group_codenames()
    assert codenames == coordinator_permission_codenames()
    assert not any(code.startswith("delete_") for code in codenames)
    assert {"view_patient", "change_patient", "add_enrollment", "change_escalation"} <= codenames
    assert not {"change_clinic", "change_message", "change_program", "add_consentevent"} & codenames


def test_the_group_migration_follows_the_initial_and_every_later_one_follows_it(db):
    graph = MigrationLoader(connection).graph
    assert ("reminders", "0001_initial") in graph.node_map[("reminders", "0002_coordinator_group")].parents
    [leaf] = graph.leaf_nodes("reminders")
    assert ("reminders", "0002_coordinator_group") in graph.forwards_plan(leaf)


def test_running_the_migration_again_restores_exactly_the_permissions(db):
    migration = importlib.import_module("reminders.migrations.0002_coordinator_group")
    group = Group.objects.get(name=COORDINATOR_GROUP)
    group.permissions.add(Permission.objects.get(codename="delete_patient"))
    group.permissions.remove(Permission.objects.get(codename="view_patient"))

    class Editor:
        connection = connection

    migration.coordinator_group_create(apps, Editor())
    migration.coordinator_group_create(apps, Editor())
    assert group_codenames() == coordinator_permission_codenames()
    assert Group.objects.filter(name=COORDINATOR_GROUP).count() == 1


def test_the_group_can_be_made_on_an_emptied_database(db):
    Group.objects.all().delete()
    Permission.objects.filter(content_type__app_label="reminders").delete()
    coordinator_group_ensure()
    assert group_codenames() == coordinator_permission_codenames()


def test_the_migration_reverses(db):
    migration = importlib.import_module("reminders.migrations.0002_coordinator_group")

    class Editor:
        connection = connection

    migration.coordinator_group_delete(apps, Editor())
    assert not Group.objects.filter(name=COORDINATOR_GROUP).exists()
