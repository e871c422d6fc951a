"""Check the distribution files of ``make dist`` as users get them.

    python scripts/dist_check.py --pythons 3.10 3.11 3.12 3.13 dist

(``make dist-check`` runs it, with pyenv's interpreters first on PATH.) For
each file in the distribution directory:

- every wheel: a fresh virtualenv of the Python it was built for, with no
  Rust toolchain on PATH (``cargo`` and ``rustc`` are proven absent from
  inside it), where pip installs the wheel and Django from binaries only
  (``--only-binary :all:``, so nothing can be built there);
- the sdist, once, with Python 3.11 (``--sdist-python``): a fresh
  virtualenv where pip must build it from source (Rust is needed there, and
  kept on PATH); the tag of the wheel pip built shows it was built here;

then, in a new interpreter of that virtualenv, run from outside the
repository: ``python -m fastdispatch`` must exit 0 and report the shim
active, and scripts/dist_smoke.py (shim active, ``post_save`` native, a
``post_save`` receiver run by a saved model). ``twine check --strict`` checks
every file. A table of the results closes the output; they are also written
to ``<work>/results.json``. Exits 1 when a check failed or a Python has no
wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scripts" / "dist_smoke.py"
CONSTRAINTS = ROOT / "constraints"
# The Django series installed with each Python: the newest one that supports
# it (Django 6.x needs Python 3.12).
DJANGO_FOR_PYTHON = {"3.10": "5.2", "3.11": "5.2", "3.12": "6.1", "3.13": "6.1"}
# Environment variables that would reach a build or point at a toolchain.
DROPPED_PREFIXES = ("PYO3_", "CARGO_ZIGBUILD_", "VIRTUAL_ENV", "PYTHONPATH")
RUST_PREFIXES = ("CARGO", "RUSTUP", "RUSTC", "RUSTFLAGS", "RUSTDOC")
RUST_TOOLS = ("cargo", "rustc", "rustup")
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]


@dataclass
class Check:
    """One distribution file and what its checks found."""

    path: Path
    kind: str  # "wheel" or "sdist"
    tag: str
    python: str
    twine: str = "not run"
    steps: list[str] = field(default_factory=list)
    smoke: dict[str, object] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and self.twine == "PASSED"


def wheel_tags(path: Path) -> tuple[str, str]:
    """The Python (``3.12``) and the platform tag of a wheel file's name:
    ``name-version-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64``."""
    parts = path.name.removesuffix(".whl").split("-")
    if len(parts) != 5 or not parts[2].startswith("cp3"):
        raise SystemExit(f"dist_check: unexpected wheel name {path.name}")
    python = f"3.{parts[2].removeprefix('cp3')}"
    return python, parts[4]


def base_environment(strip_rust: bool) -> dict[str, str]:
    """This process's environment, without what could leak a toolchain or a
    virtualenv into the check; with ``strip_rust``, also without any PATH
    entry holding cargo, rustc or rustup, and without their variables."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(DROPPED_PREFIXES)
        and not (strip_rust and name.startswith(RUST_PREFIXES))
    }
    entries = env.get("PATH", "").split(os.pathsep)
    if strip_rust:
        entries = [
            entry
            for entry in entries
            if entry and not any(shutil.which(tool, path=entry) for tool in RUST_TOOLS)
        ]
    env["PATH"] = os.pathsep.join(entries)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> str:
    """Run a command, its output appended to ``log``; its output, or
    RuntimeError with the end of it when it fails."""
    result = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    with log.open("a") as file:
        file.write(f"$ {' '.join(args)}\n{result.stdout}\n")
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-15:])
        raise RuntimeError(
            f"{Path(args[0]).name} {' '.join(args[1:3])} ... exited with status "
            f"{result.returncode} (log: {log}):\n{tail}"
        )
    return result.stdout


def check_install(check: Check, work: Path, strip_rust: bool) -> None:
    """A fresh virtualenv of the check's Python, the file and Django
    installed in it, then the smoke tests in new interpreters."""
    interpreter = shutil.which(f"python{check.python}")
    if interpreter is None:
        raise RuntimeError(f"no python{check.python} on PATH")
    venv = work / f"venv-{check.kind}-{check.python}"
    shutil.rmtree(venv, ignore_errors=True)
    log = work / f"{venv.name}.log"
    log.unlink(missing_ok=True)
    env = base_environment(strip_rust)
    run([interpreter, "-m", "venv", str(venv)], env, work, log)
    python = str(venv / "bin" / "python")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])
    env["VIRTUAL_ENV"] = str(venv)
    check.steps.append(f"venv of {interpreter}")

    # Where the wheel is installed, Rust must be out of reach.
    probe = (
        "import shutil, sys; "
        f"found = {{t: shutil.which(t) for t in {RUST_TOOLS!r}}}; "
        "print(found); sys.exit(any(found.values()))"
    )
    if strip_rust:
        run([python, "-c", probe], env, work, log)
        check.steps.append("no cargo/rustc/rustup on PATH (shutil.which)")

    series = DJANGO_FOR_PYTHON[check.python]
    install = [python, *PIP, "install"]
    if check.kind == "wheel":
        install += ["--only-binary", ":all:"]
    else:
        # pip builds the sdist itself: maturin from the package index in an
        # isolated build environment, then cargo.
        install += ["--no-binary", "django-fastdispatch"]
    install += [
        str(check.path),
        f"Django~={series}.0",
        "-c",
        str(CONSTRAINTS / f"django-{series}.txt"),
    ]
    started = time.monotonic()
    run(install, env, work, log)
    check.steps.append(
        f"pip install {check.kind} + Django {series} "
        f"({time.monotonic() - started:.0f} s)"
    )
    tag_code = (
        "import importlib.metadata as m; "
        "w = m.distribution('django-fastdispatch').read_text('WHEEL'); "
        "print([l.split(': ')[1] for l in w.splitlines() if l.startswith('Tag:')])"
    )
    installed_tag = run([python, "-c", tag_code], env, work, log).strip()
    check.smoke["installed_wheel_tag"] = installed_tag
    if check.kind == "sdist" and "manylinux" in installed_tag:
        raise RuntimeError(f"the sdist was not built here: {installed_tag}")

    # Each in a new interpreter, from the work directory (no checkout on
    # sys.path): what the start-up hook does by itself.
    report = run([python, "-m", "fastdispatch"], env, work, log)
    wanted = ("shim: active (", "django.dispatch patched", "fastdispatch.Signal: True")
    missing = [text for text in wanted if text not in report]
    if missing:
        raise RuntimeError(f"python -m fastdispatch does not say {missing}:\n{report}")
    check.smoke["python -m fastdispatch"] = [
        line for line in report.splitlines() if line.startswith(("shim:", "django."))
    ]
    check.steps.append("python -m fastdispatch: shim active")
    output = run([python, str(SMOKE)], env, work, log)
    check.smoke.update(json.loads(output.strip().splitlines()[-1]))
    check.steps.append("post_save receiver ran on save")


def twine_check(files: list[Path], checks: dict[Path, Check], work: Path) -> None:
    """``twine check --strict``, file by file (its verdict per file)."""
    log = work / "twine.log"
    log.unlink(missing_ok=True)
    for path in files:
        try:
            output = run(
                [sys.executable, "-m", "twine", "check", "--strict", str(path)],
                dict(os.environ),
                ROOT,
                log,
            )
            checks[path].twine = "PASSED" if "PASSED" in output else output.strip()
        except RuntimeError as error:
            checks[path].twine = "FAILED"
            checks[path].error = checks[path].error or str(error)


def size(path: Path) -> str:
    kib = path.stat().st_size / 1024
    return f"{kib / 1024:.2f} MiB" if kib >= 1024 else f"{kib:.0f} KiB"


def table(checks: list[Check]) -> str:
    """The results, one row per file."""
    rows = [("file", "tag", "size", "python", "twine", "smoke")]
    for check in checks:
        if check.error:
            smoke = "FAILED: " + check.error.splitlines()[0]
        else:
            smoke = (
                f"ok: Python {check.smoke.get('python')}, "
                f"Django {check.smoke.get('django')}, shim active, "
                f"post_save ran {check.smoke.get('receiver_calls')}x "
                f"({check.seconds:.0f} s)"
            )
        rows.append(
            (
                check.path.name,
                check.tag,
                size(check.path),
                check.python,
                check.twine,
                smoke,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path, help="the directory of make dist")
    parser.add_argument("--pythons", nargs="+", required=True, metavar="3.X")
    parser.add_argument("--sdist-python", default="3.11")
    parser.add_argument("--work", type=Path, default=ROOT / "target" / "dist-check")
    parser.add_argument(
        "--no-sdist",
        action="store_true",
        help="wheels only: no sdist is looked for, built or checked",
    )
    options = parser.parse_args()

    dist = options.dist.resolve()
    work = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    problems: list[str] = []
    if options.no_sdist:
        sdists = []
    elif len(sdists) != 1:
        problems.append(f"{len(sdists)} sdists in {dist}, not one")

    checks: dict[Path, Check] = {}
    for wheel in wheels:
        python, tag = wheel_tags(wheel)
        checks[wheel] = Check(wheel, "wheel", tag, python)
    built_for = sorted({check.python for check in checks.values()})
    for python in options.pythons:
        if python not in built_for:
            problems.append(f"no wheel for Python {python} in {dist}")
    for python in built_for:
        if python not in options.pythons:
            problems.append(f"a wheel for Python {python}, not supported")
        if python not in DJANGO_FOR_PYTHON:
            problems.append(f"no Django series known for Python {python}")
    for sdist in sdists:
        checks[sdist] = Check(sdist, "sdist", "sdist (source)", options.sdist_python)

    for check in checks.values():
        if check.python not in DJANGO_FOR_PYTHON:
            check.error = f"no Django series known for Python {check.python}"
            continue
        print(f"== {check.path.name}: Python {check.python}", flush=True)
        started = time.monotonic()
        try:
            check_install(check, work, strip_rust=check.kind == "wheel")
        except RuntimeError as error:
            check.error = str(error)
        check.seconds = time.monotonic() - started
        for step in check.steps:
            print(f"   {step}")
        print(f"   {'FAILED: ' + check.error if check.error else 'ok'}", flush=True)

    twine_check(list(checks), checks, work)

    ordered = sorted(checks.values(), key=lambda c: (c.kind != "wheel", c.python))
    print()
    print(table(ordered))
    results = [
        {
            "file": check.path.name,
            "kind": check.kind,
            "tag": check.tag,
            "bytes": check.path.stat().st_size,
            "python": check.python,
            "twine": check.twine,
            "ok": check.ok,
            "error": check.error,
            "steps": check.steps,
            "smoke": check.smoke,
            "seconds": round(check.seconds, 1),
        }
        for check in ordered
    ]
    (work / "results.json").write_text(
        json.dumps({"problems": problems, "files": results}, indent=2) + "\n"
    )
    problems += [f"{c.path.name}: {c.error or c.twine}" for c in ordered if not c.ok]
    for problem in problems:
        print(f"dist_check: {problem.splitlines()[0]}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
