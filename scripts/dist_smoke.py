"""Smoke test of an installed django-fastdispatch, run by scripts/dist_check.py.

Run with the interpreter of a virtualenv where the package was installed from
a wheel or an sdist (and Django), from a directory outside the repository, in
a new process: what a user's first ``import django`` gets. Checks that

1. the package comes from that virtualenv's site-packages (not a checkout);
2. the start-up hook (``fastdispatch_shim.pth``) made Django's dispatcher the
   native one: ``django.dispatch.Signal`` is ``fastdispatch.Signal``, and
   ``post_save`` (a ``ModelSignal``, Django's subclass of it) is native;
3. a ``post_save`` receiver runs when a model is saved: a tiny app written
   to a temporary directory, its table created by the schema editor in an
   in-memory SQLite database, one object saved.

Prints one JSON line (what was found) and exits 0, or raises.
"""

from __future__ import annotations

import json
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

APP = "smokeapp"
MODELS = textwrap.dedent(
    """
    from django.db import models


    class Note(models.Model):
        text = models.CharField(max_length=40)

        class Meta:
            app_label = "smokeapp"
    """
)


def main() -> None:
    import fastdispatch
    from fastdispatch import _native, _shim

    site_packages = Path(sysconfig.get_path("purelib")).resolve()
    native = Path(_native.__file__).resolve()
    if site_packages not in native.parents:
        raise AssertionError(f"{native} is not in this environment's {site_packages}")
    if not (site_packages / "fastdispatch_shim.pth").is_file():
        raise AssertionError(f"no fastdispatch_shim.pth in {site_packages}")

    # The tiny app: a package on sys.path with one model.
    app_root = Path(tempfile.mkdtemp(prefix="fastdispatch-smoke-"))
    package = app_root / APP
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    sys.path.insert(0, str(app_root))

    import django
    from django.conf import settings

    settings.configure(
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        },
        INSTALLED_APPS=[APP],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()

    import django.dispatch
    from django.db import connection
    from django.db.models.signals import post_save

    native_signal = django.dispatch.Signal is fastdispatch.Signal
    if not (native_signal and _shim.is_active()):
        raise AssertionError(
            f"shim not active: django.dispatch.Signal is {django.dispatch.Signal!r}"
        )
    # post_save is a ModelSignal, Django's own subclass of Signal: of the
    # native class once the shim is at work.
    native_base = next(
        (cls for cls in type(post_save).__mro__ if cls.__module__ == "fastdispatch"),
        None,
    )
    if native_base is None or not isinstance(post_save, fastdispatch.Signal):
        raise AssertionError(f"post_save is a {type(post_save).__mro__!r}")

    from smokeapp.models import Note  # type: ignore[import-not-found]

    seen: list[tuple[int, bool]] = []

    def on_save(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(on_save, sender=Note)
    with connection.schema_editor() as editor:
        editor.create_model(Note)
    note = Note.objects.create(text="saved")
    note.text = "saved again"
    note.save()
    if seen != [(note.pk, True), (note.pk, False)]:
        raise AssertionError(f"post_save receiver saw {seen}, not two saves")

    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "django": django.get_version(),
                "fastdispatch": fastdispatch.__version__,
                "native_module": str(native),
                "post_save_mro": [
                    f"{cls.__module__}.{cls.__qualname__}"
                    for cls in type(post_save).__mro__
                ],
                "django_signal_is_native": native_signal,
                "receiver_calls": len(seen),
            }
        )
    )


if __name__ == "__main__":
    main()
