"""Django settings for bizagent.

Everything an operator may change is read from the environment (a ``.env`` file in the
project root may supply it) through the strict helpers in ``bizagent.env``, following
the contract table in DESIGN.md. A wrong value stops start-up with a message naming
the variable.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from bizagent.env import (
    env_bool,
    env_choice,
    env_float,
    env_hosts,
    env_int,
    env_list,
    env_str,
    env_url,
    value_shown,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BIZAGENT_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Real environment variables win over the .env file. The test settings skip it so a
# developer's .env never leaks into the suite.
if not env_bool("BIZAGENT_SKIP_DOTENV", False):
    load_dotenv(BASE_DIR / ".env", override=False)

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(`make run` writes one for you), or set DJANGO_DEBUG=true for a development-only key."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "[::1]"] if DEBUG else ["127.0.0.1", "localhost"],
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # Only for the Swagger UI assets its wheel ships: the API docs page works offline.
    "ninja",
    # Before django_q: bizagent's `qcluster` command shadows django_q's (children die with
    # the cluster, stopping is bounded). Django takes a command from the first app listing it.
    "bizagent",
    "django_q",
    "decisions",
    "workflows",
    "ideas",
    "goals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (it reads the chosen language), before common (which may redirect).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: a signed-in person's own language beats cookie and browser.
    "decisions.middleware.PersonLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "bizagent.urls"
WSGI_APPLICATION = "bizagent.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'bizagent.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql"),
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN,
    # so two writers queue on busy_timeout instead of failing with "database is locked"
    # when a deferred read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int(
            "BIZAGENT_SQLITE_BUSY_TIMEOUT", 30, minimum=1, maximum=3600, unit="seconds"
        ),
        # The loop writes ~65 pages a commit, mostly the same hot pages (its state row,
        # the newest index leaves): a checkpoint every 10,000 WAL pages (40 MB; SQLite's
        # default is 1,000) copies each of them once per checkpoint instead of ten times
        # and syncs the files a tenth as often (checkpoints were ~0.45 ms of an
        # iteration, now ~0.2), and the WAL is cut back to 64 MB after one. A 32 MB page
        # cache per connection (default 2 MB) keeps the loop's reads at 100,000 ideas in
        # memory (15.6 -> 2.2 page reads from the file an iteration).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=10000; "
        "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-32000;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache every process shares (gunicorn workers and qcluster workers), used for locks.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "bizagent_cache",
    }
}

# --- django-q2 --------------------------------------------------------------------------
REDIS_URL = env_url("BIZAGENT_REDIS_URL", None, schemes=("redis", "rediss"))
LLM_TIMEOUT = env_float("BIZAGENT_LLM_TIMEOUT", 300.0, minimum=1.0, maximum=3600.0, unit="seconds")
# A task may make a few model calls with retries; it must finish well inside `timeout`,
# and `retry` must exceed `timeout` or a slow task is delivered twice while still running.
Q_TASK_TIMEOUT = env_int(
    "BIZAGENT_Q_TIMEOUT", int(max(900, LLM_TIMEOUT * 3)), minimum=10, maximum=86400, unit="seconds"
)
Q_CLUSTER = {
    "name": "bizagent",
    "workers": env_int("BIZAGENT_Q_WORKERS", 2, minimum=1, maximum=64),
    "timeout": Q_TASK_TIMEOUT,
    "retry": Q_TASK_TIMEOUT + 120,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    # The django-q2 app's name in the admin (its only use); bizagent's start-up gives
    # it in the reader's language (``bizagent.admin_site.admin_site_brand``).
    "label": "Task queue",
    # How long the ORM broker's pusher sleeps when it found the queue empty: every task
    # queued while it sleeps waits that long (django-q2's own default; at 1 s, a workflow's
    # parallel branches each lost up to a second per hop). An idle poll is one SELECT.
    "poll": 0.2,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- LLM ------------------------------------------------------------------------------
LLM_BACKEND = env_choice("BIZAGENT_LLM_BACKEND", "vllm", ("vllm", "ollama", "openai"))
_LLM_DEFAULT_URLS = {
    "vllm": "http://127.0.0.1:8000/v1",
    "ollama": "http://127.0.0.1:11434",
    "openai": "http://127.0.0.1:8000/v1",
}
_LLM_DEFAULT_MODELS = {
    "vllm": "openai/gpt-oss-20b",
    "ollama": "gpt-oss:20b",
    "openai": "openai/gpt-oss-20b",
}
LLM_BASE_URL = env_url(
    "BIZAGENT_LLM_BASE_URL", _LLM_DEFAULT_URLS[LLM_BACKEND], schemes=("http", "https")
).rstrip("/")
LLM_MODEL = env_str("BIZAGENT_LLM_MODEL", _LLM_DEFAULT_MODELS[LLM_BACKEND])
LLM_API_KEY = env_str("BIZAGENT_LLM_API_KEY")
LLM_MAX_RETRIES = env_int("BIZAGENT_LLM_MAX_RETRIES", 3, minimum=0, maximum=20)
LLM_RETRY_BUDGET = env_float(
    "BIZAGENT_LLM_RETRY_BUDGET", 120.0, minimum=0.0, maximum=3600.0, unit="seconds"
)
LLM_CONTEXT_TOKENS = env_int(
    "BIZAGENT_LLM_CONTEXT_TOKENS", 32768, minimum=2048, maximum=1_048_576, unit="tokens"
)
# Where the offline Harmony vocab is built when TIKTOKEN_ENCODINGS_BASE is unset.
VOCAB_CACHE_DIR = Path(env_str("BIZAGENT_VOCAB_DIR", str(VAR_DIR / "vocab")))

# --- Google Sheets ------------------------------------------------------------------------
SHEETS_CREDENTIALS = env_str("BIZAGENT_SHEETS_CREDENTIALS")
SHEETS_SPREADSHEET_ID = env_str("BIZAGENT_SHEETS_SPREADSHEET_ID")
# A range of past performance (date, metric, value[, currency] rows) read as a goals
# metric source, e.g. "past_performance!A2:D". Unset: that source is off.
GOALS_SHEETS_RANGE = env_str("BIZAGENT_GOALS_SHEETS_RANGE")

# --- Whop metric source -------------------------------------------------------------
# Unset key: the source is off (goals plan from entered figures). A key without the
# company it reads is a half-configured source, refused at start naming the variable.
WHOP_API_KEY = env_str("BIZAGENT_WHOP_API_KEY")
WHOP_COMPANY_ID = env_str("BIZAGENT_WHOP_COMPANY_ID")
WHOP_API_URL = env_url(
    "BIZAGENT_WHOP_API_URL", "https://api.whop.com/api/v1", schemes=("http", "https")
).rstrip("/")
WHOP_WEBHOOK_SECRET = env_str("BIZAGENT_WHOP_WEBHOOK_SECRET")
if WHOP_API_KEY and not WHOP_COMPANY_ID:
    raise ImproperlyConfigured(
        "BIZAGENT_WHOP_COMPANY_ID must be set (biz_…) when BIZAGENT_WHOP_API_KEY is set"
    )

# --- Telegram (decisions over a bot) ------------------------------------------------
# Unset token: the channel is off (email and the admin only). The API root is replaced
# by a loopback fake in tests. With a webhook secret set, updates arrive at the webhook
# view (which needs public HTTPS); without it, a django-q2 task long-polls getUpdates.
TELEGRAM_BOT_TOKEN = env_str("BIZAGENT_TELEGRAM_BOT_TOKEN")
TELEGRAM_API_URL = env_url(
    "BIZAGENT_TELEGRAM_API_URL", "https://api.telegram.org", schemes=("http", "https")
).rstrip("/")
TELEGRAM_WEBHOOK_SECRET = env_str("BIZAGENT_TELEGRAM_WEBHOOK_SECRET")
if TELEGRAM_WEBHOOK_SECRET and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", TELEGRAM_WEBHOOK_SECRET):
    # Telegram's setWebhook accepts only these characters; anything else it refuses.
    raise ImproperlyConfigured(
        "BIZAGENT_TELEGRAM_WEBHOOK_SECRET must be 1-256 letters, digits, _ or - "
        "(what Telegram's setWebhook accepts)"
    )

# --- Goals ---------------------------------------------------------------------------
# The currency of a bare amount in a goal ("200万" is JPY). Checked against the goals
# vocabulary's known currencies by the system check goals.E002 (bizagent imports no app,
# so the list of currencies is not repeated here).
DEFAULT_CURRENCY = env_str("BIZAGENT_DEFAULT_CURRENCY", "JPY").strip().upper()

# --- Governance -----------------------------------------------------------------------
DECISION_TIMEOUT_HOURS = env_float(
    "DECISION_TIMEOUT", 24.0, minimum=0.01, maximum=8760.0, unit="hours"
)
AUTO_EXECUTION_ENABLED = env_bool("AUTO_EXECUTION_ENABLED", True)
APPROVER_GROUP = env_str("BIZAGENT_APPROVER_GROUP")
SITE_URL = env_url("BIZAGENT_SITE_URL", "http://127.0.0.1:8080", schemes=("http", "https")).rstrip(
    "/"
)

# --- Workflows: outbound http ----------------------------------------------------------
# Hosts user workflows' http steps may reach although SSRF rules would refuse them (an
# intranet API, the loopback fakes of the test suite): exact host match, every hop.
HTTP_ALLOWED_HOSTS = env_hosts("BIZAGENT_HTTP_ALLOWED_HOSTS")
# Where system workflows reach this application's own API with a per-run token.
INTERNAL_BASE_URL = env_url(
    "BIZAGENT_INTERNAL_BASE_URL", "http://127.0.0.1:8080", schemes=("http", "https")
).rstrip("/")

# --- Email ----------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_TIMEOUT = 30
else:
    # Prints mails to stdout, with decision-link tokens redacted (logs are widely read).
    EMAIL_BACKEND = "bizagent.console_mail.RedactingConsoleBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "bizagent@localhost")

# --- Auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "admin:login"
# The language of a person who chose none (set_language) and whose browser asks for
# neither: the users and the design documents are Japanese, so Japanese unless set.
LANGUAGE_CODE = env_choice("BIZAGENT_LANGUAGE", "ja", ("ja", "en"))
LANGUAGES = [("ja", "日本語"), ("en", "English")]
# Compiled catalogues are committed (``make messages`` compiles them in pure Python), so a
# clean clone needs no gettext binaries.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC").strip()
if TIME_ZONE not in zoneinfo.available_timezones() and TIME_ZONE != "UTC":
    raise ImproperlyConfigured(
        "TIME_ZONE must be an IANA time zone such as UTC or Asia/Tokyo, "
        f"got {value_shown(TIME_ZONE)}"
    )
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT: Path | None = VAR_DIR / "static"  # None in the test settings (no collectstatic)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
SESSION_COOKIE_HTTPONLY = True

LOG_LEVEL = env_choice(
    "BIZAGENT_LOG_LEVEL", "INFO", ("debug", "info", "warning", "error", "critical")
).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Request warnings ("Bad Request: /decisions/1/link/<token>/") and tracebacks would
    # copy live decision-link tokens into the log: the handler redacts every record.
    "filters": {"link_tokens": {"()": "bizagent.logredact.LinkTokenFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["link_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # The HTTP clients log every request at INFO; the model client logs what matters.
    "loggers": {
        "django": {"level": "WARNING"},
        # runserver's request lines: through the redacting handler, not Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# --- Email links and Sheets mirror ---
# A decision link in a mail stops working after this long, or when the decision is due,
# whichever comes first.
DECISION_LINK_MAX_AGE_HOURS = env_float(
    "BIZAGENT_DECISION_LINK_MAX_AGE_HOURS", 48.0, minimum=0.01, maximum=8760.0, unit="hours"
)
# The catch-up schedule that mirrors pending rows to Google Sheets.
SHEETS_SYNC_MINUTES = env_int(
    "BIZAGENT_SHEETS_SYNC_MINUTES", 5, minimum=1, maximum=1440, unit="minutes"
)
# Rows per append_rows call, and seconds one call may spend sleeping between retries.
SHEETS_BATCH_SIZE = env_int("BIZAGENT_SHEETS_BATCH_SIZE", 500, minimum=1, maximum=10_000)
SHEETS_RETRY_BUDGET = env_float(
    "BIZAGENT_SHEETS_RETRY_BUDGET", 30.0, minimum=0.0, maximum=600.0, unit="seconds"
)
