"""`manage.py seed_demo`: the demo data, refused with debug off."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reminders.models import Enrollment, Message


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert not Enrollment.objects.exists()


def test_seed_demo_leaves_an_existing_admin_password_alone(db, settings, django_user_model):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    settings.DEBUG = True
    django_user_model.objects.create_superuser(username="admin", password="their-own-long-password")
    call_command("load_programs", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="admin", password="their-own-long-password")
    assert not authenticate(request, username="admin", password="demo-pass-123")
    assert "left as they were (their own password): admin" in out.getvalue()


def test_seed_demo_makes_logins_and_messages_due_within_a_minute(db, settings):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory
    from django.utils import timezone as djtz

    settings.DEBUG = True
    call_command("load_programs", stdout=StringIO())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())  # again: resets, never duplicates
    assert "coord-a" in out.getvalue()
    for username in ("admin", "coord-a", "coord-b"):
        # django-axes checks every login against its lockouts, so it needs the request.
        assert authenticate(RequestFactory().post("/admin/login/"), username=username, password="demo-pass-123")
    now = djtz.now()
    due_soon = Message.objects.filter(status="pending", due_at__lte=now + djtz.timedelta(minutes=1))
    assert due_soon.count() >= 4
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"active", "paused", "cancelled"}
