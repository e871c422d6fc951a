#!/usr/bin/env python3
"""Run Django's own test suites with fastdispatch's shim in place.

Django's ``tests/`` directory is not part of its wheel, so the source
distribution of exactly the installed Django version is fetched once with pip
into a cache directory (``.cache/django-suites/`` by default, never
committed), and only its ``tests/`` is extracted.

The suites then run in this process, through ``runpy``, after a proof that the
shim took over ``django.dispatch``: ``django.dispatch.Signal`` is the native
``fastdispatch.Signal`` and Django's signals are instances of it. The proof is
printed as a marker line before the suites and checked again after them.

    python scripts/run_django_suites.py                 # dispatch and signals
    python scripts/run_django_suites.py model_signals   # other labels
    python scripts/run_django_suites.py --check-only    # only the proof

Exit status: runtests.py's (0 when every test passed), 3 when the shim is not
active, 4 when Django's tests could not be fetched.
"""

import argparse
import importlib.metadata
import os
import runpy
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cache" / "django-suites"
DEFAULT_LABELS = ["dispatch", "signals"]

MARKER = (
    "fastdispatch shim active: django.dispatch.Signal is fastdispatch._native.Signal"
)
NOT_ACTIVE = "fastdispatch shim NOT active"
EXIT_NOT_ACTIVE = 3
EXIT_NO_TESTS = 4


class ShimNotActive(Exception):
    pass


def shim_problems():
    """What is wrong with the claim "the shim took over django.dispatch"; an
    empty list when nothing is."""
    import django.dispatch
    import django.dispatch.dispatcher as dispatcher
    import fastdispatch
    from django.contrib.auth.signals import user_logged_in
    from django.core.signals import request_started, setting_changed
    from django.db.models.signals import post_save, pre_migrate
    from fastdispatch import _native

    native = _native.Signal
    problems = []
    if fastdispatch.Signal is not native:
        problems.append("fastdispatch.Signal is not fastdispatch._native.Signal")
    if not _native.__file__.endswith((".so", ".pyd")):
        problems.append(f"fastdispatch._native is not native: {_native.__file__}")
    for where, value in [
        ("django.dispatch.Signal", django.dispatch.Signal),
        ("django.dispatch.dispatcher.Signal", dispatcher.Signal),
    ]:
        if value is not native:
            problems.append(f"{where} is {value.__module__}.{value.__qualname__}")
    for name in ("receiver", "_make_id", "NONE_ID", "NO_RECEIVERS"):
        if getattr(dispatcher, name) is not getattr(fastdispatch, name):
            problems.append(f"django.dispatch.dispatcher.{name} is Django's")
    for name, signal in [
        ("post_save", post_save),
        ("pre_migrate", pre_migrate),
        ("request_started", request_started),
        ("setting_changed", setting_changed),
        ("user_logged_in", user_logged_in),
    ]:
        if not isinstance(signal, native):
            problems.append(f"{name} is a {type(signal).__qualname__}, not native")
    return problems


def prove_shim_active(when):
    problems = shim_problems()
    if problems:
        print(f"{NOT_ACTIVE} ({when}):", flush=True)
        for problem in problems:
            print(f"  - {problem}", flush=True)
        raise ShimNotActive(problems)
    from fastdispatch import _native

    print(MARKER, flush=True)
    print(f"  ({when}; native module: {_native.__file__})", flush=True)


def django_version():
    return importlib.metadata.version("Django")


def fetch_django_tests(version, cache):
    """The ``tests/`` directory of Django ``version``'s source distribution,
    downloaded and extracted into ``cache`` unless already there."""
    base = cache / f"django-{version}"
    tests = base / "tests"
    done = base / ".extracted"
    if done.is_file() and (tests / "runtests.py").is_file():
        return tests
    cache.mkdir(parents=True, exist_ok=True)
    archive = next(iter(sorted(cache.glob(f"[Dd]jango-{version}.tar.gz"))), None)
    if archive is None:
        archive = _download_sdist(version, cache)
    if base.exists():
        shutil.rmtree(base)
    _extract_tests(archive, base)
    done.write_text(f"{archive.name}\n")
    return tests


def _download_sdist(version, cache):
    print(f"Fetching the source distribution of Django {version} ...", flush=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"django=={version}",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            "--dest",
            tmp,
        ]
        subprocess.run(command, check=True)
        found = sorted(Path(tmp).glob(f"[Dd]jango-{version}.tar.gz"))
        if not found:
            raise FileNotFoundError(f"pip downloaded no Django-{version}.tar.gz")
        target = cache / found[0].name
        os.replace(found[0], target)
    return target


def _extract_tests(archive, base):
    """Extract the members under ``<top>/tests/`` of ``archive`` into ``base``
    (so that ``base/tests`` is Django's tests directory)."""
    tmp = Path(tempfile.mkdtemp(dir=base.parent, prefix=".extract-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = []
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) >= 2 and parts[1] == "tests":
                    members.append(member)
            if not members:
                raise FileNotFoundError(f"no tests/ directory in {archive}")
            top = Path(members[0].name).parts[0]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # Python releases before the extraction filters
                tar.extractall(tmp, members=members)  # noqa: S202
        os.replace(tmp / top, base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_suites(tests, labels, verbosity, extra):
    """Run Django's ``runtests.py`` in this process; its exit status."""
    runtests = tests / "runtests.py"
    argv = [str(runtests), *labels, "--parallel=1", f"--verbosity={verbosity}"]
    argv += extra
    print("Running:", " ".join(argv[1:]), flush=True)
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = argv
    sys.path.insert(0, str(tests))
    try:
        runpy.run_path(str(runtests), run_name="__main__")
    except SystemExit as stop:
        code = stop.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Other options are passed on to Django's runtests.py.",
    )
    parser.add_argument(
        "labels",
        nargs="*",
        default=DEFAULT_LABELS,
        help="test labels for runtests.py (default: %(default)s)",
    )
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="only prove that the shim is active; run no test",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("FASTDISPATCH_DJANGO_CACHE", DEFAULT_CACHE)),
        help="where the source distribution is kept (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbosity", type=int, default=2)
    return parser.parse_known_args(argv)


def main(argv=None):
    options, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        prove_shim_active("before the suites")
    except ShimNotActive:
        return EXIT_NOT_ACTIVE
    if options.check_only:
        return 0
    version = django_version()
    try:
        tests = fetch_django_tests(version, options.cache_dir.resolve())
    except (OSError, subprocess.CalledProcessError, tarfile.TarError) as err:
        print(f"Could not get Django {version}'s tests: {err}", file=sys.stderr)
        return EXIT_NO_TESTS
    print(f"Django {version} tests from {tests}", flush=True)
    status = run_suites(tests, options.labels, options.verbosity, extra)
    try:
        prove_shim_active("after the suites")
    except ShimNotActive:
        return EXIT_NOT_ACTIVE
    return status


if __name__ == "__main__":
    sys.exit(main())
