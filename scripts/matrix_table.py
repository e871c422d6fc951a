#!/usr/bin/env python3
"""One table of the test matrix's results (noxfile.py), one row a pair.

Each nox session of the matrix records its results in
``.nox-results/<session>.json``. This script asks nox which sessions a
selection names (the nox options after ``--``, as given to nox; none: every
session) and prints, for each, the pytest counts and the verdict of Django's
own suites. A selected pair without results (its interpreter was not found,
or nox stopped before it) is listed as missing.

    python scripts/matrix_table.py                     # every pair
    python scripts/matrix_table.py -- -t diagonal      # the pairs CI runs
    python scripts/matrix_table.py -- -s "tests-3.12(django='6.1')"

Options for pytest, after a second ``--`` (as nox takes them), are ignored.

With ``--clear``, it prints nothing but removes the results of the selected
sessions instead: ``make matrix`` does so before it runs them, so that a pair
that does not run this time is missing from the table, not shown with the
results of an earlier run.

Exit status: 0 when every selected pair passed, 1 when one failed or is
missing, 2 when nox could not list the sessions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ROOT / ".nox-results"
EXIT_LIST_FAILED = 2
# Failing tests listed under the table for each pair (all are in its JSON).
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class Selected:
    """A session nox lists for the selection."""

    session: str
    python: str
    django: str


def recorded_results(results: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The results in ``results``, by session name (each file says whose)."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(results.glob("*.json")):
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(result, dict) and isinstance(result.get("session"), str):
            found[result["session"]] = (path, result)
    return found


def selected_sessions(nox_args: list[str]) -> list[Selected]:
    """The matrix sessions that ``nox <nox_args>`` would run, in its order."""
    command = [sys.executable, "-m", "nox", "--list", "--json", *nox_args]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with status {done.returncode}:\n"
            f"{done.stderr.strip()}"
        )
    listed: list[dict[str, Any]] = json.loads(done.stdout)
    return [
        Selected(
            session=entry["session"],
            python=str(entry.get("python") or "?"),
            django=str(entry.get("call_spec", {}).get("django", "?")),
        )
        for entry in listed
        if "django" in entry.get("call_spec", {})
    ]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def pytest_cell(result: dict[str, Any]) -> str:
    pytest = result.get("pytest")
    if not pytest:
        return "not run"
    if not pytest.get("summary_found"):
        return f"no summary (exit status {pytest.get('exit_code')})"
    parts = [f"{pytest.get('passed', 0)} passed", f"{pytest.get('failed', 0)} failed"]
    for name in ("errors", "xfailed", "xpassed", "skipped"):
        if pytest.get(name):
            label = "error" if name == "errors" and pytest[name] == 1 else name
            parts.append(f"{pytest[name]} {label}")
    return ", ".join(parts)


def suites_cell(result: dict[str, Any]) -> str:
    suites = result.get("django_suites")
    if not suites:
        return "not run"
    verdict = suites.get("verdict") or f"no verdict (exit status {suites['exit_code']})"
    if suites.get("details"):
        verdict += f" ({suites['details']})"
    ran = suites.get("tests_run")
    return f"{verdict}, {ran} tests" if ran is not None else verdict


def notes_of(session: str, result: dict[str, Any]) -> list[str]:
    """What to say under the table about a pair that did not pass."""
    status = result.get("status")
    if status == "ok":
        return []
    if status != "failed":
        return [
            f"{session}: broke off at stage {result.get('stage')}:"
            f" {result.get('error', 'no error recorded')}"
        ]
    notes = []
    pytest = result.get("pytest") or {}
    problems = pytest.get("problems") or []
    if pytest.get("exit_code"):
        notes.append(
            f"{session}: pytest exited with status {pytest['exit_code']}"
            f" (log: {pytest.get('log')})"
        )
    notes += [f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        notes.append(f"  ... {len(problems) - MAX_PROBLEMS_SHOWN} more in the log")
    suites = result.get("django_suites") or {}
    if suites and (suites.get("exit_code") or suites.get("verdict") != "OK"):
        notes.append(
            f"{session}: Django's suites: {suites_cell(result)},"
            f" exit status {suites.get('exit_code')} (log: {suites.get('log')})"
        )
    return notes


def row(
    selected: Selected, recorded: dict[str, tuple[Path, dict[str, Any]]]
) -> tuple[list[str], bool, list[str]]:
    """The table row of one pair, whether it passed, and the notes under the
    table about it (why it is missing, failed or broke off)."""
    python = selected.python
    if selected.session not in recorded:
        cells = [python, selected.django, "-", "-", "-", "MISSING"]
        note = (
            f"{selected.session}: no results recorded"
            f" (was Python {python} found? see nox's output above)"
        )
        return cells, False, [note]
    _, result = recorded[selected.session]
    django = result.get("installed", {}).get("django", selected.django)
    status = str(result.get("status", "error"))
    cells = [
        str(result.get("python", python)),
        django,
        pytest_cell(result),
        suites_cell(result),
        duration(result.get("seconds")),
        status.upper(),
    ]
    return cells, status == "ok", notes_of(selected.session, result)


def render(rows: list[list[str]]) -> str:
    header = ["Python", "Django", "pytest", "Django's dispatch+signals", "time"]
    header.append("result")
    table = [header, *rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        for line in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def split_at_dashes(args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` before and after the first ``--``."""
    if "--" not in args:
        return args, []
    at = args.index("--")
    return args[:at], args[at + 1 :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [--clear] [--results DIR] [-- NOX_SELECTION [-- ...]]",
        epilog="Options after -- select sessions as they do for nox.",
    )
    parser.add_argument(
        "--clear",
        action="store_true",
        help="remove the selected sessions' results; print no table",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="the folder of the sessions' JSON files (default: %(default)s)",
    )
    args = sys.argv[1:] if argv is None else argv
    # Ours, then nox's selection after --, then pytest's options after --.
    ours, nox_args = split_at_dashes(args)
    nox_args, _ = split_at_dashes(nox_args)
    options = parser.parse_args(ours)
    results: Path = options.results.resolve()
    try:
        sessions = selected_sessions(nox_args)
    except (RuntimeError, json.JSONDecodeError) as error:
        print(f"matrix_table: cannot list the sessions: {error}", file=sys.stderr)
        return EXIT_LIST_FAILED
    if not sessions:
        print("matrix_table: the selection names no session of the matrix")
        return 1
    recorded = recorded_results(results)
    if options.clear:
        for selected in sessions:
            if selected.session in recorded:
                recorded[selected.session][0].unlink()
        return 0
    rows: list[list[str]] = []
    notes: list[str] = []
    passed = 0
    for selected in sessions:
        cells, ok, pair_notes = row(selected, recorded)
        rows.append(cells)
        passed += ok
        notes += pair_notes
    print()
    print(render(rows))
    for note in notes:
        print(f"  {note}")
    failed = len(sessions) - passed
    print()
    # A plain closing line: every selected pair, a missing one as failed.
    print(f"pairs: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
