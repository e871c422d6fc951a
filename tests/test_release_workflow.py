"""The release workflow (.github/workflows/release.yml), as far as it can be
checked without a forge to run it: the YAML parses, every job builds for the
Pythons of the support table (README.md, pyproject.toml's classifiers), and
the Linux x86_64 job passes maturin the flags of ``make dist``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (requirements-test.txt)")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
MATURIN_ACTION = "PyO3/maturin-action@"
SETUP_PYTHON = "actions/setup-python@"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def support_table_pythons() -> list[str]:
    """The Python columns of README.md's support table."""
    readme = (ROOT / "README.md").read_text()
    header = re.search(r"^\| Django \|(.*)\|$", readme, re.MULTILINE)
    assert header, "README.md has no support table (| Django | Python 3.x | ...)"
    return re.findall(r"Python (3\.\d+)", header.group(1))


def classifier_pythons() -> list[str]:
    """The ``Programming Language :: Python :: 3.x`` classifiers."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)


def steps(uses: str) -> list[tuple[str, dict]]:
    """(job name, step) of every step that uses the action ``uses``."""
    return [
        (name, step)
        for name, job in workflow()["jobs"].items()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith(uses)
    ]


def interpreters(args: str) -> list[str]:
    """The versions of the ``-i pythonX.Y`` options of maturin's arguments."""
    words = shlex.split(args)
    found = []
    for option, value in zip(words, words[1:], strict=False):
        if option in ("-i", "--interpreter"):
            match = re.fullmatch(r"python(3\.\d+)", value)
            assert match, f"interpreter {value!r} is not pythonX.Y"
            found.append(match.group(1))
    return found


def make_dist_args() -> list[str]:
    """``make print-dist-args``: the maturin flags of ``make dist``."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    output = subprocess.run(
        [make, "-s", "--no-print-directory", "-C", str(ROOT), "print-dist-args"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return shlex.split(output.strip())


def test_workflow_parses() -> None:
    parsed = workflow()
    assert parsed["name"] == "Release"
    # PyYAML reads the key `on` as True (YAML 1.1).
    triggers = parsed.get("on", parsed.get(True))
    assert "push" in triggers and "workflow_dispatch" in triggers
    jobs = parsed["jobs"]
    for job in ("linux", "musllinux", "macos", "windows", "sdist", "publish"):
        assert job in jobs
    assert set(jobs["publish"]["needs"]) == set(jobs) - {"publish"}
    # Trusted publishing: a token from the forge, no stored secret.
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert "secrets." not in WORKFLOW.read_text()


def test_support_table_and_classifiers_agree() -> None:
    assert support_table_pythons() == classifier_pythons() != []


def test_every_build_is_for_the_supported_pythons() -> None:
    supported = support_table_pythons()
    builds = [
        (name, step)
        for name, step in steps(MATURIN_ACTION)
        if step.get("with", {}).get("command", "build") == "build"
    ]
    assert {name for name, _ in builds} == {"linux", "musllinux", "macos", "windows"}
    for name, step in builds:
        assert interpreters(step["with"]["args"]) == supported, name
    for name, step in steps(SETUP_PYTHON):
        versions = str(step["with"]["python-version"]).split()
        assert versions == supported, name


def test_linux_x86_64_is_make_dist() -> None:
    linux = workflow()["jobs"]["linux"]
    targets = {entry["target"] for entry in linux["strategy"]["matrix"]["include"]}
    assert "x86_64" in targets
    ((_, step),) = [s for s in steps(MATURIN_ACTION) if s[0] == "linux"]
    args = shlex.split(step["with"]["args"])
    # Where the files go is the only difference.
    out = args.index("--out")
    del args[out : out + 2]
    assert args == make_dist_args()


def test_make_dist_builds_for_the_supported_pythons() -> None:
    assert interpreters(shlex.join(make_dist_args())) == support_table_pythons()
