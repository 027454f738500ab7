import pytest
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import COORDINATOR_PASSWORD
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)

LOGIN = reverse("admin:login")


def login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/", **extra})


def test_repeated_failures_lock_the_login_even_with_the_right_password(client, coord_a, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert login(client, "coord-a", "wrong").status_code == 200
    locked = login(client, "coord-a", "wrong")
    assert locked.status_code == 429
    assert login(client, "coord-a", COORDINATOR_PASSWORD).status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # still not logged in


def test_a_success_before_the_limit_resets_the_count(client, coord_a, settings):
    settings.AXES_FAILURE_LIMIT = 3
    login(client, "coord-a", "wrong")
    login(client, "coord-a", "wrong")
    assert login(client, "coord-a", COORDINATOR_PASSWORD).status_code == 302
    client.logout()
    login(client, "coord-a", "wrong")
    assert login(client, "coord-a", COORDINATOR_PASSWORD).status_code == 302


def test_without_the_setting_a_password_is_enough(client, coord_a, settings):
    settings.ADMIN_REQUIRE_OTP = False
    assert login(client, "coord-a", COORDINATOR_PASSWORD)["Location"] == "/admin/"


@pytest.fixture
def device(coord_a):
    return TOTPDevice.objects.create(user=coord_a, name="phone", confirmed=True)


def token(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_with_the_setting_a_second_factor_is_required(client, coord_a, device, settings):
    settings.ADMIN_REQUIRE_OTP = True
    page = client.get(LOGIN)
    assert "otp_token" in page.content.decode()
    refused = login(client, "coord-a", COORDINATOR_PASSWORD)
    assert refused.status_code == 200 and client.get(reverse("admin:index")).status_code == 302
    accepted = login(client, "coord-a", COORDINATOR_PASSWORD, otp_device=device.persistent_id, otp_token=token(device))
    assert accepted.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_token_is_refused(client, coord_a, device, settings):
    settings.ADMIN_REQUIRE_OTP = True
    wrong = f"{(int(token(device)) + 1) % 10**6:06d}"
    assert login(client, "coord-a", COORDINATOR_PASSWORD, otp_device=device.persistent_id,
                 otp_token=wrong).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_with_the_setting_a_session_without_a_second_factor_is_not_let_in(client, coord_a, settings):
    settings.ADMIN_REQUIRE_OTP = True
    client.force_login(coord_a)
    assert client.get(reverse("admin:reminders_patient_changelist")).status_code == 302
