"""Which receivers take the time: recording each receiver call of the native
signals, as ``profiling()`` blocks or for the whole process.

The native ``send`` and ``send_robust`` time each receiver they call (two
clock reads around the call) while a recording runs; ``asend``,
``asend_robust`` and the async receivers of ``send`` are timed in
``fastdispatch._glue``. With no recording running, a send reads one counter
and nothing else changes.

* ``with fastdispatch.profiling() as profile:`` records what runs in the
  block, in every thread; ``profile.receivers`` gives the rows (readable
  while recording, final once the block exits), ``profile.to_text()`` a
  table and ``profile.to_json()`` the JSON of ``profile.schema.json``.
  Blocks nest: each records what ran while it was open.
* ``FASTDISPATCH_PROFILE=1`` records a whole process, from the moment
  ``fastdispatch`` is imported (under the start-up hook: when Django's
  dispatcher is), and writes the report when the process exits: as text to
  standard error, or to the file named by ``FASTDISPATCH_PROFILE_FILE``
  (JSON when its name ends in ``.json``, text otherwise).
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastdispatch._native import (
    PROFILE_SCHEMA_VERSION,
    Profile,
    ReceiverTiming,
    _profile_start,
)

__all__ = [
    "PROFILE_ENV",
    "PROFILE_FILE_ENV",
    "PROFILE_SCHEMA_VERSION",
    "Profile",
    "ReceiverTiming",
    "enabled_by_env",
    "profiling",
    "start_from_environment",
    "write_report",
]

PROFILE_ENV = "FASTDISPATCH_PROFILE"
PROFILE_FILE_ENV = "FASTDISPATCH_PROFILE_FILE"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@contextmanager
def profiling() -> Iterator[Profile]:
    """Record every receiver call of the native signals while the block
    runs, in every thread; yields the ``Profile``, final once the block exits.
    """
    profile = _profile_start()
    try:
        yield profile
    finally:
        profile.stop()


def write_report(profile: Profile, path: str | None = None) -> None:
    """Write ``profile`` to ``path`` (JSON when it ends in ``.json``, text
    otherwise), or as text to standard error when ``path`` is empty."""
    if not path:
        sys.stderr.write(profile.to_text())
        return
    text = profile.to_json() + "\n" if path.endswith(".json") else profile.to_text()
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def enabled_by_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``FASTDISPATCH_PROFILE`` asks for the whole process to be
    recorded (``1``, ``true``, ``yes`` or ``on``, in any case)."""
    value = (os.environ if environ is None else environ).get(PROFILE_ENV, "")
    return value.strip().lower() in _TRUE_WORDS


_process_profile: Profile | None = None


def start_from_environment(environ: Mapping[str, str] | None = None) -> Profile | None:
    """Start recording the whole process if ``FASTDISPATCH_PROFILE`` asks for
    it (once), with its report written at exit. Returns that recording."""
    global _process_profile
    if _process_profile is not None or not enabled_by_env(environ):
        return _process_profile
    _process_profile = _profile_start()
    path = (os.environ if environ is None else environ).get(PROFILE_FILE_ENV)
    atexit.register(_report_at_exit, _process_profile, path)
    return _process_profile


def _report_at_exit(profile: Profile, path: str | None) -> None:
    profile.stop()
    try:
        write_report(profile, path)
    except OSError as err:
        sys.stderr.write(
            f"fastdispatch: could not write the profile to {path}: {err}\n"
        )
