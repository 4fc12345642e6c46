"""Production refuses unsafe defaults; the documented production settings pass check --deploy."""

import os
import secrets
import subprocess
import sys

import pytest

from tests.support import BASE_DIR, subprocess_env

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "mvcontrol.example.net",
    "CSRF_TRUSTED_ORIGINS": "https://mvcontrol.example.net",
    "SESSION_COOKIE_SECURE": "true",
    "BEHIND_TLS_PROXY": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    env.update(PRODUCTION)
    env.update(overrides)
    return env


@pytest.mark.django_db
def test_documented_production_settings_pass_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env=subprocess_env(**production_env()))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "demo-insecure-secret-key-change-me"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
    ],
)
def test_production_refuses_unsafe_defaults(overrides, message):
    env = production_env(**overrides)
    if overrides.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = manage("check", env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_defaults_start_without_configuration():
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    result = manage("check", env=env)
    assert result.returncode == 0, result.stderr


def test_every_environment_variable_is_documented():
    import re

    source = (BASE_DIR / "mvcontrol" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source))
    names -= {"MVCONTROL_VAR_DIR"}  # internal: lets a test run keep its own var/ directory
    readme = (BASE_DIR / "README.md").read_text()
    example = (BASE_DIR / ".env.example").read_text()
    assert names, "no variables found: the pattern no longer matches settings.py"
    missing_readme = sorted(n for n in names if f"`{n}`" not in readme)
    missing_example = sorted(n for n in names - {"TEST_DB_SUFFIX", "DB_CONN_MAX_AGE",
                                                   "STATIC_ROOT", "RATELIMIT_ENABLE"}
                             if f"{n}=" not in example)
    assert not missing_readme, missing_readme
    assert not missing_example, missing_example
