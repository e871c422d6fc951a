"""The test matrix: every supported pair of a Python and a Django series.

Each pair is one nox session, ``tests-<python>(django='<series>')``, in its
own virtualenv under ``.nox/``:

1. The release wheel of django-fastdispatch is built for that Python with
   maturin, in a cargo target directory of that Python's own
   (``target/matrix/<python>``). The wheel is kept in
   ``target/matrix/wheels/<python>/`` and reused by the other pairs of that
   Python until a source file changes (a fat-LTO build takes minutes).
2. The wheel is installed as users get it (not editable: the ``.pth``
   start-up hook with it), beside the latest patch release of the Django
   series, the test dependencies of ``requirements-test.txt`` and the
   constraints of ``constraints/django-<series>.txt``.
3. With the shim proven active: the pytest suite, then Django's own
   ``dispatch`` and ``signals`` suites of that Django version
   (``scripts/run_django_suites.py``; pytest leaves out its own run of them).

Each session writes what it found to ``.nox-results/<session>.json``, also
when it fails; ``scripts/matrix_table.py`` prints them as one table.

    make matrix                          # every pair, then the table
    make matrix PAIRS="3.11:5.2 3.12:6.1"
    make matrix-ci                       # the diagonal CI runs (tag: diagonal)
    nox -l                               # the sessions
    nox -s "tests-3.12(django='6.1')" -- -x -k caching   # pytest options

Interpreters are looked up on PATH (``python3.12``, ...); the Makefile puts
pyenv's first. A missing one fails its sessions (never a silent skip).

The ``peers-*`` sessions (tag ``peers``, not run by a plain ``nox``; ``make
peers``) run other packages' own test suites with the same wheels: see the
section at the end of this file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nox
from nox.command import CommandFailed

if sys.version_info >= (3, 11):
    import tomllib
else:  # nox itself depends on tomli there
    import tomli as tomllib

nox.needs_version = ">=2025.10.14"
nox.options.error_on_missing_interpreters = True
# Interpreters come from this machine (pyenv), never from a download.
nox.options.download_python = "never"

ROOT = Path(__file__).resolve().parent
RESULTS_DIR = ROOT / ".nox-results"
MATRIX_TARGET = ROOT / "target" / "matrix"
TEST_REQUIREMENTS = "requirements-test.txt"
CONSTRAINTS_DIR = "constraints"
SUITES_SCRIPT = ROOT / "scripts" / "run_django_suites.py"

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# Each Django series, and the Pythons among PYTHONS that it supports. Django
# 4.2 supports Python 3.8 to 3.12 (3.12 from 4.2.8 on), not 3.13; Django 6.0
# and 6.1 need Python 3.12 or later.
DJANGO_PYTHONS: dict[str, tuple[str, ...]] = {
    "4.2": ("3.10", "3.11", "3.12"),
    "5.2": ("3.10", "3.11", "3.12", "3.13"),
    "6.0": ("3.12", "3.13"),
    "6.1": ("3.12", "3.13"),
}
# The pairs CI runs (`make matrix-ci`): every Python and every series once.
DIAGONAL = frozenset(
    {("3.10", "4.2"), ("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")}
)
DIAGONAL_TAG = "diagonal"

# The sources the wheel is built from: a change to any of them rebuilds it.
WHEEL_SOURCE_FILES = ("Cargo.toml", "Cargo.lock", "pyproject.toml", "README.md")
WHEEL_SOURCE_DIRS = ("src", "python")

# Django's suites run once per pair, below, with their results recorded:
# pytest leaves out tests/test_django_suites.py's run of the same suites (its
# two quick checks of --check-only stay).
PYTEST_DESELECT = (
    "tests/test_django_suites.py"
    "::test_django_dispatch_and_signals_suites_pass_under_the_shim"
)
# Recorded for the table: what each pair really installed.
RECORDED_DISTRIBUTIONS = (
    "django",
    "django-fastdispatch",
    "asgiref",
    "pytest",
    "hypothesis",
    "django-debug-toolbar",
    "django-extensions",
    "django-registration",
    "factory-boy",
    "sentry-sdk",
    "jsonschema",
)
# Environment variables of the caller that would change what is tested.
UNSET_VARIABLES = ("FASTDISPATCH_DISABLE", "PYTHONPATH", "DJANGO_SETTINGS_MODULE")

PYTEST_SUMMARY = re.compile(
    r"^=+ (?P<counts>(?:\d+ \w+(?:, )?)+|no tests ran) in [\d.]+s\b.*=+$",
    re.MULTILINE,
)
PYTEST_COUNT = re.compile(r"(\d+) (\w+)")
PYTEST_SHORT_SUMMARY = re.compile(r"^=+ short test summary info =+$", re.MULTILINE)
PYTEST_PROBLEM = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)
DJANGO_RAN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)
DJANGO_VERDICT = re.compile(r"^(OK|FAILED)(?: \((.*)\))?$", re.MULTILINE)
MAX_LISTED_PROBLEMS = 50


def pairs() -> list[tuple[str, str]]:
    """Every tested (python, django series) pair, by Python then Django."""
    return [
        (python, series)
        for python in PYTHONS
        for series, supported in DJANGO_PYTHONS.items()
        if python in supported
    ]


def result_path(session_name: str) -> Path:
    """Where the session ``session_name`` records its results."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", session_name).strip("-")
    return RESULTS_DIR / f"{slug}.json"


def run_pair(session: nox.Session, series: str) -> None:
    """One pair, from the wheel to the last suite; its results recorded."""
    python = str(session.python)
    result: dict[str, Any] = {
        "session": session.name,
        "python": python,
        "django_series": series,
        "status": "error",
        "stage": "start",
    }
    target = result_path(session.name)
    target.unlink(missing_ok=True)
    started = time.monotonic()
    problems: list[str] = []
    try:
        for name in UNSET_VARIABLES:
            session.env[name] = None

        result["stage"] = "build"
        wheel, reused, build_seconds = matrix_wheel(session, python)
        result["wheel"] = {
            "file": wheel.name,
            "reused": reused,
            "build_seconds": round(build_seconds, 1),
        }

        result["stage"] = "install"
        constraints = Path(CONSTRAINTS_DIR, f"django-{series}.txt")
        if not (ROOT / constraints).is_file():
            session.error(f"{constraints} is missing: every Django series has one")
        session.install(
            str(wheel),
            f"Django~={series}.0",
            "-r",
            TEST_REQUIREMENTS,
            "-c",
            str(constraints),
        )
        result["installed"] = installed_versions(session)

        result["stage"] = "shim"
        # Exits with status 3 unless django.dispatch.Signal is the native one.
        session.run("python", str(SUITES_SCRIPT.relative_to(ROOT)), "--check-only")
        result["shim_active"] = True

        logs = Path(session.create_tmp()).resolve()
        result["stage"] = "pytest"
        pytest = run_pytest(session, logs / "pytest.log")
        result["pytest"] = pytest
        if pytest["exit_code"] != 0:
            problems.append(f"pytest exited with status {pytest['exit_code']}")

        result["stage"] = "django-suites"
        suites = run_django_suites(session, logs / "django-suites.log")
        result["django_suites"] = suites
        if suites["exit_code"] != 0 or suites["verdict"] != "OK":
            problems.append(
                f"Django's suites: {suites['verdict'] or 'no verdict'}"
                f" (exit status {suites['exit_code']})"
            )

        result["stage"] = "done"
        result["status"] = "failed" if problems else "ok"
    except BaseException as error:
        result["error"] = f"{type(error).__name__}: {error}".rstrip(": ")
        raise
    finally:
        result["seconds"] = round(time.monotonic() - started, 1)
        result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        RESULTS_DIR.mkdir(exist_ok=True)
        target.write_text(json.dumps(result, indent=2) + "\n")
    if problems:
        # A failed session, as a failing command makes it (session.error()
        # would call it "aborted").
        reason = "; ".join(problems)
        session.warn(f"{session.name} failed: {reason}")
        raise CommandFailed(reason)


def source_digest() -> str:
    """A hash of the files the wheel is built from (names and contents)."""
    files = [ROOT / name for name in WHEEL_SOURCE_FILES]
    for directory in WHEEL_SOURCE_DIRS:
        files.extend(
            path
            for path in (ROOT / directory).rglob("*")
            if path.is_file()
            and path.suffix not in {".so", ".pyd", ".pyc"}
            and "__pycache__" not in path.parts
        )
    digest = hashlib.sha256()
    for path in sorted(files):
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_requirements() -> list[str]:
    """What pyproject.toml's build-system needs (maturin)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["build-system"]["requires"])


def matrix_wheel(session: nox.Session, python: str) -> tuple[Path, bool, float]:
    """The release wheel for the session's Python: built unless the one kept
    for that Python was built from the same sources. Returns the wheel,
    whether it was reused, and the seconds the build took."""
    # The interpreter the virtualenv was made from: the same path in every
    # session of this Python, so cargo's fingerprints (PyO3 reruns its build
    # script when PYO3_PYTHON changes) hold from one session to the next.
    interpreter = Path(session.bin, "python").resolve()
    kept = MATRIX_TARGET / "wheels" / python
    stamp = MATRIX_TARGET / "wheels" / f"{python}.stamp"
    key = f"{source_digest()} {interpreter}"
    wheels = sorted(kept.glob("*.whl"))
    if len(wheels) == 1 and stamp.is_file() and stamp.read_text().strip() == key:
        session.log(f"Reusing {wheels[0].relative_to(ROOT)}: sources unchanged")
        return wheels[0], True, 0.0

    session.install(*build_requirements())
    out = Path(session.create_tmp()).resolve() / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    session.run(
        "maturin",
        "build",
        "--release",
        "--interpreter",
        str(interpreter),
        "--target-dir",
        str((MATRIX_TARGET / python).relative_to(ROOT)),
        "--out",
        str(out),
        env={"PYO3_PYTHON": str(interpreter)},
    )
    seconds = time.monotonic() - started
    built = sorted(out.glob("*.whl"))
    if len(built) != 1:
        session.error(f"maturin left {len(built)} wheels in {out}, not one")
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    wheel = Path(shutil.move(str(built[0]), kept / built[0].name))
    stamp.write_text(key + "\n")
    return wheel, False, seconds


def installed_versions(
    session: nox.Session, extra: Sequence[str] = ()
) -> dict[str, str]:
    """The versions of RECORDED_DISTRIBUTIONS (and of ``extra``) installed in
    the session."""
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    output = session.run("python", "-c", code, silent=True) or ""
    versions = json.loads(output.strip().splitlines()[-1])

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    found = {normal(name): version for name, version in versions.items()}
    names = dict.fromkeys([*RECORDED_DISTRIBUTIONS, *map(normal, extra)])
    return {name: found[name] for name in names if name in found}


def run_pytest(session: nox.Session, log: Path) -> dict[str, Any]:
    """The pytest suite; its exit status and counts."""
    started = time.monotonic()
    status, output = tee(
        session,
        [
            "python",
            "-m",
            "pytest",
            "-ra",
            "--color=no",
            "tests/",
            "-p",
            "no:cacheprovider",
            "--deselect",
            PYTEST_DESELECT,
            *session.posargs,
        ],
        log,
    )
    counts: dict[str, int] = {}
    summaries = PYTEST_SUMMARY.findall(output)
    if summaries and summaries[-1] != "no tests ran":
        for number, word in PYTEST_COUNT.findall(summaries[-1]):
            name = {"error": "errors", "warning": "warnings"}.get(word, word)
            counts[name] = int(number)
    # The short test summary (-ra) lists them; output above it (a failing
    # test's captured output) may have such lines of its own.
    starts = [match.end() for match in PYTEST_SHORT_SUMMARY.finditer(output)]
    short_summary = output[starts[-1] :] if starts else ""
    problems = [
        f"{kind} {test}" for kind, test in PYTEST_PROBLEM.findall(short_summary)
    ]
    return {
        "exit_code": status,
        "summary_found": bool(summaries),
        **{
            name: counts.get(name, 0)
            for name in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
        },
        "deselected": counts.get("deselected", 0),
        "problems": problems[:MAX_LISTED_PROBLEMS],
        "seconds": round(time.monotonic() - started, 1),
        "log": str(log.relative_to(ROOT)),
    }


def run_django_suites(session: nox.Session, log: Path) -> dict[str, Any]:
    """Django's own dispatch and signals suites; what they reported."""
    started = time.monotonic()
    status, output = tee(session, ["python", str(SUITES_SCRIPT.relative_to(ROOT))], log)
    ran = DJANGO_RAN.findall(output)
    verdicts = DJANGO_VERDICT.findall(output)
    marker = suites_marker()
    return {
        "exit_code": status,
        "tests_run": int(ran[-1]) if ran else None,
        "verdict": verdicts[-1][0] if verdicts else None,
        "details": verdicts[-1][1] if verdicts else "",
        # Proven before the suites and again after them.
        "shim_proofs": output.splitlines().count(marker),
        "seconds": round(time.monotonic() - started, 1),
        "log": str(log.relative_to(ROOT)),
    }


def suites_marker() -> str:
    """The line scripts/run_django_suites.py prints once the shim is proven."""
    spec = importlib.util.spec_from_file_location("_run_django_suites", SUITES_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {SUITES_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.MARKER)


def tee(
    session: nox.Session,
    args: Sequence[str],
    log: Path,
    *,
    cwd: Path = ROOT,
    env_overrides: dict[str, str | None] | None = None,
) -> tuple[int, str]:
    """Run ``args`` in the session's virtualenv from ``cwd`` (the repository
    root unless told), showing its output as it comes and keeping it in
    ``log``; its exit status and output. (nox's ``session.run`` either shows
    the output or returns it.) ``env_overrides`` sets variables on top of the
    session's, None unsetting one."""
    bin_dir = str(session.bin)
    env = dict(os.environ)
    for name, value in {**session.env, **(env_overrides or {})}.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["PATH"] = os.pathsep.join(filter(None, [bin_dir, env.get("PATH")]))
    env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    env["PYTHONUNBUFFERED"] = "1"
    session.log(" ".join(args))
    executable = shutil.which(args[0], path=bin_dir) or args[0]
    collected: list[str] = []
    with (
        log.open("w") as file,
        subprocess.Popen(
            [executable, *args[1:]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            file.write(line)
            collected.append(line)
    return process.returncode, "".join(collected)


def make_session(python: str) -> None:
    """Register the sessions of one Python: ``tests-<python>(django=...)``."""

    def tests(session: nox.Session, django: str) -> None:
        run_pair(session, django)

    tests.__doc__ = f"wheel, pytest, Django's own suites on Python {python}"
    params = [
        nox.param(series, tags=[DIAGONAL_TAG] if (python, series) in DIAGONAL else [])
        for pair_python, series in pairs()
        if pair_python == python
    ]
    nox.session(name=f"tests-{python}", python=python)(
        nox.parametrize("django", params)(tests)
    )


for _python in PYTHONS:
    make_session(_python)


# -- make peers: the test suites of packages people run beside Django ---------
#
# Each (pair, package) is one session, ``peers-<python>(django='<series>',
# package='<name>')``, tagged ``peers`` and left out of a plain ``nox`` run
# (and so of ``make matrix``): the package's own suite, from its source
# distribution, with the runner its own CI uses, on SQLite, run twice in the
# same virtualenv: on stock Django's dispatcher (FASTDISPATCH_DISABLE=1) and
# on the native one, each proven. The wheel is the matrix's (matrix_wheel).
# Results: .nox-results/peers/<session>.json; scripts/peers_table.py prints
# them and fails when a test fails only under native or the runs differ.

PEERS_FILE = ROOT / "scripts" / "peers.toml"
PEERS_CACHE = ROOT / ".cache" / "peers"
PEERS_RESULTS = RESULTS_DIR / "peers"
PEERS_PROBE = ROOT / "scripts" / "peers_probe.py"
PEERS_SETTINGS = ROOT / "scripts" / "peers_settings"
PEERS_TAG = "peers"
PEER_PAIRS = (("3.11", "5.2"), ("3.13", "6.1"))
# The two runs of each suite: name, FASTDISPATCH_DISABLE, whether the
# process must use the native Signal.
PEER_MODES = (("stock", "1", False), ("native", None, True))
PEER_REPORT_VARIABLE = "FASTDISPATCH_PEERS_REPORT"
SHIM_ACTIVE = re.compile(r"^shim: active \(", re.MULTILINE)
SHIM_OFF = re.compile(r"^shim: off \(", re.MULTILINE)
SIGNAL_IS_NATIVE = re.compile(r"^django\.dispatch\.Signal is \S+: (True|False)$", re.M)
INTERNALS = re.compile(r"^internals of Django: (.*)$", re.MULTILINE)


def peer_packages() -> dict[str, dict[str, Any]]:
    """scripts/peers.toml: each package's version, source, runner."""
    with PEERS_FILE.open("rb") as file:
        return tomllib.load(file)


def peers_result_path(session_name: str) -> Path:
    """Where the peers session ``session_name`` records its results."""
    return PEERS_RESULTS / result_path(session_name).name


def peer_sdist(session: nox.Session, name: str, spec: dict[str, Any]) -> Path:
    """The package's source distribution, from .cache/peers/ or else
    downloaded there from the package index; its hash checked."""
    version = spec["version"]
    filename = f"{re.sub(r'[-_.]+', '_', name)}-{version}.tar.gz"
    sdist = PEERS_CACHE / filename
    if not sdist.is_file():
        PEERS_CACHE.mkdir(parents=True, exist_ok=True)
        session.run(
            "python", "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", "--dest", str(PEERS_CACHE),
            f"{name}=={version}",
        )  # fmt: skip
    if not sdist.is_file():
        session.error(f"pip download left no {filename} in {PEERS_CACHE}")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != spec["sha256"]:
        session.error(
            f"{sdist.relative_to(ROOT)}: sha256 {digest}, not the"
            f" {spec['sha256']} of scripts/peers.toml"
        )
    return sdist


def peer_checkout(session: nox.Session, name: str, spec: dict[str, Any]) -> Path:
    """The package's repository at its release tag, for a package whose sdist
    leaves out part of its tests (their fixtures, templates): a shallow clone
    in .cache/peers/<name>-<tag>/, made once; its commit checked."""
    checkout = PEERS_CACHE / f"{name}-{spec['tag']}"
    if not (checkout / ".git").is_dir():
        PEERS_CACHE.mkdir(parents=True, exist_ok=True)
        session.run(
            "git", "clone", "--quiet", "--depth", "1", "--branch", spec["tag"],
            spec["repository"], str(checkout), external=True,
        )  # fmt: skip
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if head != spec["commit"]:
        session.error(
            f"{checkout.relative_to(ROOT)} is at {head}, not at the"
            f" {spec['commit']} of scripts/peers.toml"
        )
    return checkout


def unpack(source: Path, into: Path) -> Path:
    """A fresh copy of the tests' tree in ``into``, from an sdist or from a
    checkout (without its .git); its top folder."""
    import tarfile

    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    if source.is_dir():
        top = into / source.name
        shutil.copytree(
            source, top, symlinks=True, ignore=shutil.ignore_patterns(".git")
        )
        return top
    sdist = source
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:  # Python without extraction filters (before 3.10.12/3.11.4)
            archive.extractall(into)  # noqa: S202 (an sdist of known hash)
    (top,) = into.iterdir()
    return top


def prove_dispatcher(
    session: nox.Session, mode: str, disable: str | None, native: bool
) -> dict[str, Any]:
    """``python -m fastdispatch`` in the virtualenv, with the run's
    environment: the shim must be active for the native run, off for the
    stock one. Fails the session otherwise."""
    env = {"FASTDISPATCH_DISABLE": disable}
    output = session.run("python", "-m", "fastdispatch", silent=True, env=env) or ""
    signal = SIGNAL_IS_NATIVE.search(output)
    internals = INTERNALS.search(output)
    expected_shim = SHIM_ACTIVE if native else SHIM_OFF
    if not expected_shim.search(output) or not signal:
        session.error(f"{mode} run: python -m fastdispatch says:\n{output}")
    if (signal.group(1) == "True") != native:
        session.error(f"{mode} run: {signal.group(0)}")
    session.log(f"{mode} run: {signal.group(0)}")
    return {
        "python -m fastdispatch": output.strip().splitlines(),
        "internals": internals.group(1) if internals else None,
    }


def run_peer_suite(
    session: nox.Session,
    name: str,
    spec: dict[str, Any],
    tests_source: Path,
    mode: str,
    disable: str | None,
    native: bool,
) -> dict[str, Any]:
    """One run of the package's suite, stock or native; what it ran."""
    tmp = Path(session.create_tmp()).resolve()
    tree = unpack(tests_source, tmp / mode)
    report = tmp / f"{mode}.json"
    report.unlink(missing_ok=True)
    log = tmp / f"{mode}.log"
    cwd = tree / spec.get("cwd", ".")
    env: dict[str, str | None] = {
        "FASTDISPATCH_DISABLE": disable,
        PEER_REPORT_VARIABLE: str(report),
        **spec.get("env", {}),
    }
    path = [str(PEERS_PROBE.parent)]
    if spec.get("settings"):
        path.append(str(PEERS_SETTINGS))
        env["DJANGO_SETTINGS_MODULE"] = spec["settings"]
    env["PYTHONPATH"] = os.pathsep.join(path)
    if spec["runner"] == "pytest":
        args = ["python", "-m", "pytest", "-p", PEERS_PROBE.stem, *spec["args"]]
    else:
        args = ["python", str(PEERS_PROBE), spec["script"], *spec["args"]]
    started = time.monotonic()
    status, _ = tee(session, args, log, cwd=cwd, env_overrides=env)
    seconds = round(time.monotonic() - started, 1)
    if not report.is_file():
        session.error(f"{mode} run of {name} wrote no report (exit status {status})")
    found = json.loads(report.read_text())
    dispatcher = found["dispatcher"]
    if dispatcher.get("native") is not native:
        session.error(f"{mode} run of {name}: the suite's process used {dispatcher}")
    return {
        "exit_code": status,
        "seconds": seconds,
        "tests": found["tests"],
        "failed": found["failed"],
        "skipped": len(found["skipped"]),
        "dispatcher": dispatcher,
        "log": str(log.relative_to(ROOT)),
    }


def run_peer(session: nox.Session, series: str, name: str) -> None:
    """One package's suite on one pair, stock then native; results recorded."""
    python = str(session.python)
    spec = peer_packages()[name]
    result: dict[str, Any] = {
        "session": session.name,
        "python": python,
        "django_series": series,
        "package": name,
        "version": spec["version"],
        "declares_django": spec.get("django", []),
        "server_only": spec.get("server_only", ""),
        "status": "error",
        "stage": "start",
    }
    target = peers_result_path(session.name)
    target.unlink(missing_ok=True)
    unsupported = spec.get("unsupported", {}).get(series)
    if unsupported:
        result.update(status="unsupported", stage="none", reason=unsupported)
        PEERS_RESULTS.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2) + "\n")
        session.skip(f"{name} {spec['version']} on Django {series}: {unsupported}")
    started = time.monotonic()
    try:
        for variable in UNSET_VARIABLES:
            session.env[variable] = None

        result["stage"] = "build"
        wheel, reused, build_seconds = matrix_wheel(session, python)
        result["wheel"] = {
            "file": wheel.name,
            "reused": reused,
            "build_seconds": round(build_seconds, 1),
        }

        result["stage"] = "source"
        # The package is installed from its sdist, as users get it; its tests
        # run from the sdist too, or from the repository at the release tag
        # where the sdist lacks some of their files.
        sdist = peer_sdist(session, name, spec)
        tests_source = sdist
        if spec["source"] == "repository":
            tests_source = peer_checkout(session, name, spec)
        result["tests_from"] = (
            f"{spec['repository']} at {spec['tag']} ({spec['commit']})"
            if spec["source"] == "repository"
            else sdist.name
        )

        result["stage"] = "install"
        constraints = Path(CONSTRAINTS_DIR, f"django-{series}.txt")
        session.install(
            str(wheel),
            f"Django~={series}.0",
            str(sdist),
            *spec.get("deps", []),
            "-c",
            str(constraints),
        )
        result["installed"] = installed_versions(session, extra=(name, "pytest"))

        for mode, disable, native in PEER_MODES:
            result["stage"] = f"{mode}-proof"
            proof = prove_dispatcher(session, mode, disable, native)
            result["stage"] = mode
            result[mode] = {
                **proof,
                **run_peer_suite(
                    session, name, spec, tests_source, mode, disable, native
                ),
            }

        result["stage"] = "done"
        stock, native_run = result["stock"], result["native"]
        only_native = sorted(set(native_run["failed"]) - set(stock["failed"]))
        result["failing_only_under_native"] = only_native
        result["failing_only_under_stock"] = sorted(
            set(stock["failed"]) - set(native_run["failed"])
        )
        result["run_only_under_stock"] = sorted(
            set(stock["tests"]) - set(native_run["tests"])
        )
        result["run_only_under_native"] = sorted(
            set(native_run["tests"]) - set(stock["tests"])
        )
        result["problems"] = problems = []
        for mode in ("stock", "native"):
            if not result[mode]["tests"]:
                problems.append(f"the {mode} run ran no test")
        if stock["exit_code"] != native_run["exit_code"]:
            problems.append(
                f"the runner exited with status {stock['exit_code']} under"
                f" stock, {native_run['exit_code']} under native"
            )
        same = not (
            problems
            or only_native
            or result["failing_only_under_stock"]
            or result["run_only_under_stock"]
            or result["run_only_under_native"]
        )
        result["status"] = "ok" if same else "failed"
    except BaseException as error:
        result["error"] = f"{type(error).__name__}: {error}".rstrip(": ")
        raise
    finally:
        result["seconds"] = round(time.monotonic() - started, 1)
        result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        PEERS_RESULTS.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2) + "\n")
    if result["status"] != "ok":
        reason = "the stock and native runs differ (scripts/peers_table.py)"
        session.warn(f"{session.name}: {reason}")
        raise CommandFailed(reason)


def make_peers_session(python: str, series: str) -> None:
    """Register ``peers-<python>(django=..., package=...)``: one session a
    package, left out of a plain ``nox`` run."""

    def peers(session: nox.Session, django: str, package: str) -> None:
        run_peer(session, django, package)

    peers.__doc__ = f"packages' own suites, stock and native, Python {python}"
    params = [
        nox.param(series, package, tags=[PEERS_TAG]) for package in peer_packages()
    ]
    nox.session(name=f"peers-{python}", python=python, default=False)(
        nox.parametrize(("django", "package"), params)(peers)
    )


for _python, _series in PEER_PAIRS:
    make_peers_session(_python, _series)


# -- make bench-pythons: the side-by-side table on every Python ---------------
#
# One session per Python, ``bench-<python>`` (tag ``bench``, left out of a
# plain ``nox`` run): the matrix's wheel (matrix_wheel) beside the newest
# Django series that Python supports and requirements-bench.txt, then
# benchmarks/compare.py into bench-results/python<python>/ (options after
# ``--`` go to it: ``-- --quick``). benchmarks/pythons_table.py puts the
# runs side by side, with the targets.

BENCH_TAG = "bench"
BENCH_RESULTS = ROOT / "bench-results"
BENCH_REQUIREMENTS = "requirements-bench.txt"
COMPARE_SCRIPT = ROOT / "benchmarks" / "compare.py"


def newest_series(python: str) -> str:
    """The newest Django series of DJANGO_PYTHONS that supports ``python``."""
    series = [name for name, supported in DJANGO_PYTHONS.items() if python in supported]
    return max(series, key=lambda name: tuple(map(int, name.split("."))))


def run_bench(session: nox.Session) -> None:
    """compare.py on the session's Python, with the wheel users install."""
    python = str(session.python)
    series = newest_series(python)
    for name in UNSET_VARIABLES:
        session.env[name] = None
    wheel, _, _ = matrix_wheel(session, python)
    session.install(
        str(wheel),
        f"Django~={series}.0",
        "-r",
        BENCH_REQUIREMENTS,
        "-c",
        str(Path(CONSTRAINTS_DIR, f"django-{series}.txt")),
    )
    session.run("python", str(SUITES_SCRIPT.relative_to(ROOT)), "--check-only")
    out = BENCH_RESULTS / f"python{python}"
    session.run(
        "python",
        str(COMPARE_SCRIPT.relative_to(ROOT)),
        "--out",
        str(out.relative_to(ROOT)),
        *session.posargs,
    )


for _python in PYTHONS:
    nox.session(
        name=f"bench-{_python}", python=_python, default=False, tags=[BENCH_TAG]
    )(run_bench)
