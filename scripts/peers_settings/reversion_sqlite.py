"""django-reversion's test settings on SQLite only (``make peers``).

Its test project (tests/test_project/settings.py) has three databases:
``default`` on SQLite, ``postgres`` and ``mysql`` on servers of those
engines, and its tests use all three (``databases = "__all__"``). Here the
two others are SQLite databases too, so that every test runs, the
multi-database ones included, without a database server.
"""

from test_project.settings import *  # noqa: F403

DATABASES = {
    alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{alias}.sqlite3"}
    for alias in ("default", "postgres", "mysql")
}
