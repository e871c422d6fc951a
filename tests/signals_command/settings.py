"""Django settings of the ``signals`` command tests (applied by conftest.py,
and by ``python -m django`` through ``DJANGO_SETTINGS_MODULE``)."""

SECRET_KEY = "fastdispatch-signals-command-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "fastdispatch",
    "signals_command.shop",
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None
