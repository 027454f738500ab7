"""Production settings, checked the way a deployment starts: a fresh process with its environment."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
              "ALLOWED_HOSTS": "followup.example.org"}
SHOWN = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
         "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST"]


def run(args: list[str], **env) -> subprocess.CompletedProcess:
    # Only this test's settings: none of the machine's DJANGO_* or proxy variables leak in.
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_", "TRUST_", "ALLOWED_"))}
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def settings_in(**env) -> dict:
    code = ("import django, json; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{name: getattr(settings, name, None) for name in {SHOWN!r}}}))")
    result = run(["-c", code], DJANGO_SETTINGS_MODULE="project.settings.base", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# What `make run` sets on a developer's machine (Makefile).
DEVELOPMENT = {"DJANGO_DEBUG": "true", "DJANGO_SECRET_KEY": "dev-only-insecure-key-change-me"}


def test_check_deploy_complains_in_a_development_setup():
    """The same check, with debug on as `make run` has it, does fail: the test above can fail."""
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **DEVELOPMENT)
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout  # DEBUG on


def test_with_nothing_set_debug_is_off_and_the_service_refuses_to_start_without_a_key():
    """A deployment that forgets DJANGO_DEBUG gets neither the development key nor the demo."""
    result = run(["manage.py", "check"])
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr
    result = run(["manage.py", "seed_demo"], DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "Refusing to create demo logins with DJANGO_DEBUG off" in result.stderr


def test_with_only_a_key_set_production_defaults_apply():
    assert settings_in(DJANGO_SECRET_KEY=secrets.token_urlsafe(50)) == {
        "DEBUG": False, "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None, "USE_X_FORWARDED_HOST": False,
    }


def test_without_a_secret_key_the_service_refuses_to_start_when_debug_is_off():
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in result.stderr


def test_production_turns_on_https_only_cookies_redirects_and_hsts():
    assert settings_in(**PRODUCTION) == {
        "DEBUG": False, "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None, "USE_X_FORWARDED_HOST": False,
    }


def test_each_setting_comes_from_the_environment():
    shown = settings_in(**PRODUCTION, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="3600",
                        SECURE_HSTS_PRELOAD="true", TRUST_PROXY_HEADERS="true")
    assert (shown["SECURE_SSL_REDIRECT"], shown["SECURE_HSTS_SECONDS"], shown["SECURE_HSTS_PRELOAD"]) == (
        False, 3600, True)
    assert (shown["SECURE_PROXY_SSL_HEADER"], shown["USE_X_FORWARDED_HOST"]) == (
        ["HTTP_X_FORWARDED_PROTO", "https"], True)


def test_development_keeps_plain_http():
    assert settings_in(**DEVELOPMENT) == {
        "DEBUG": True, "SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None, "USE_X_FORWARDED_HOST": False,
    }


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000


def test_plain_http_is_redirected_but_the_health_probe_is_answered(client, db, https_only):
    assert client.get("/admin/login/").status_code == 301
    assert client.get("/healthz").status_code in (200, 503)


def test_behind_a_trusted_proxy_https_is_recognised_and_gets_hsts(client, db, https_only, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
