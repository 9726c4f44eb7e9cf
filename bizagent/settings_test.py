"""Settings for the test suite: the real settings, minus the developer's .env and slow hashing."""

import os

os.environ["BIZAGENT_SKIP_DOTENV"] = "1"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DJANGO_DEBUG", "false")
# The suite's assertions read English; the i18n tests switch to Japanese themselves.
os.environ.setdefault("BIZAGENT_LANGUAGE", "en")

from bizagent.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic in tests: WhiteNoise serves the apps' static files (admin CSS and JS
# for the browser tests) straight from the finders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# A test database file per pytest process, so two runs side by side never share one
# (a file, not :memory:, because the race tests use several connections at once).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")  # noqa: F405
    }
