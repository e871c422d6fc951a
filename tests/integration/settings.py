"""Django settings of the integration tests (applied by conftest.py)."""

SECRET_KEY = "fastdispatch-integration-tests"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "debug_toolbar",
    "integration.testapp",
]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
# django-debug-toolbar's app checks the static files storage when it starts.
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None
DEBUG_TOOLBAR_CONFIG = {
    "EXTRA_SIGNALS": ["integration.testapp.signals.book_published"],
}
