#!/usr/bin/env python3
"""The table of ``make peers``: other packages' own suites, stock vs native.

Each peers session of noxfile.py (``peers-<python>(django=..., package=...)``)
runs one package's test suite twice on one (Python, Django) pair, on stock
Django's dispatcher (``FASTDISPATCH_DISABLE=1``) and on fastdispatch's, and
records both runs in ``.nox-results/peers/<session>.json``. This script asks
nox which sessions a selection names (the nox options after ``--``; none:
every peers session) and prints one row for each: the package and its
version, the tests run under each, the failures under each, and the tests
that fail only under native (listed by id under the table).

    python scripts/peers_table.py                      # every peers session
    python scripts/peers_table.py -- -s \
        "peers-3.11(django='5.2', package='django-reversion')"

With ``--clear`` it prints nothing and removes the selected sessions'
results instead (``make peers`` does so first, so that a session that does
not run this time shows as missing, not with an earlier run's results).

Exit status: 0 when, for every selected session, both runs ran the same
tests and failed the same ones; 1 when one differs, broke off or is missing;
2 when nox could not list the sessions.
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
DEFAULT_RESULTS = ROOT / ".nox-results" / "peers"
PEERS_TAG = "peers"
EXIT_LIST_FAILED = 2
# Test ids listed under the table for each kind of difference of a session
# (all of them are in its JSON).
MAX_IDS_SHOWN = 15


@dataclass(frozen=True)
class Selected:
    """A peers session nox lists for the selection."""

    session: str
    python: str
    django: str
    package: str


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
    """The peers sessions that ``nox <nox_args>`` would run, in its order
    (every peers session when ``nox_args`` selects none: they are not among
    nox's default sessions)."""
    command = [sys.executable, "-m", "nox", "--list", "--json"]
    command += nox_args or ["-t", PEERS_TAG]
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
            django=str(entry["call_spec"].get("django", "?")),
            package=str(entry["call_spec"]["package"]),
        )
        for entry in listed
        if "package" in entry.get("call_spec", {})
    ]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def row(
    selected: Selected, recorded: dict[str, tuple[Path, dict[str, Any]]]
) -> tuple[list[str], bool, list[str]]:
    """The table row of one session, whether the two runs agree, and the
    notes under the table about it."""
    pair = f"{selected.python} x {selected.django}"
    if selected.session not in recorded:
        cells = [pair, selected.package, "-", "-", "-", "-", "-", "-", "MISSING"]
        note = (
            f"{selected.session}: no results recorded"
            f" (was Python {selected.python} found? see nox's output above)"
        )
        return cells, False, [note]
    _, result = recorded[selected.session]
    installed = result.get("installed", {})
    django = installed.get("django", selected.django)
    pair = f"{result.get('python', selected.python)} x {django}"
    version = installed.get(selected.package, result.get("version", "?"))
    stock, native = result.get("stock"), result.get("native")
    status = str(result.get("status", "error"))
    if status == "unsupported":
        # The package's suite cannot run on this Django at all (scripts/
        # peers.toml says why): nothing to compare, and no failure.
        cells = [pair, selected.package, version, "-", "-", "-", "-", "-"]
        cells.append("NOT SUPPORTED")
        note = f"{selected.session}: not run: {result.get('reason')}"
        return cells, True, [note]
    if not stock or not native:
        cells = [pair, selected.package, version, "-", "-", "-", "-"]
        cells += [duration(result.get("seconds")), status.upper()]
        note = (
            f"{selected.session}: broke off at stage {result.get('stage')}:"
            f" {result.get('error', 'no error recorded')}"
        )
        return cells, False, [note]
    only_native = result.get("failing_only_under_native", [])
    run = f"{len(stock['tests'])}/{len(native['tests'])}"
    cells = [
        pair,
        selected.package,
        version,
        run,
        str(len(stock["failed"])),
        str(len(native["failed"])),
        str(len(only_native)),
        duration(result.get("seconds")),
        "OK" if status == "ok" else "DIFFERS",
    ]
    notes = [f"{selected.session}: {problem}" for problem in result.get("problems", [])]
    for key, label in [
        ("failing_only_under_native", "fails only under native"),
        ("failing_only_under_stock", "fails only under stock"),
        ("run_only_under_stock", "runs only under stock"),
        ("run_only_under_native", "runs only under native"),
    ]:
        ids = result.get(key) or []
        if ids:
            notes.append(f"{selected.session}: {len(ids)} {label}:")
            notes += [f"    {test}" for test in ids[:MAX_IDS_SHOWN]]
            if len(ids) > MAX_IDS_SHOWN:
                notes.append(f"    ... {len(ids) - MAX_IDS_SHOWN} more in its JSON")
    declared = result.get("declares_django") or []
    if declared and selected.django not in declared:
        notes.append(
            f"{selected.session}: {selected.package} declares Django"
            f" {', '.join(declared)}, not {selected.django}"
        )
    return cells, status == "ok", notes


def render(rows: list[list[str]]) -> str:
    header = [
        "pair",
        "package",
        "version",
        "tests run (stock/native)",
        "failures stock",
        "failures native",
        "failing only under native",
        "time",
        "result",
    ]
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
        usage="%(prog)s [--clear] [--results DIR] [-- NOX_SELECTION]",
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
    ours, nox_args = split_at_dashes(args)
    nox_args, _ = split_at_dashes(nox_args)
    options = parser.parse_args(ours)
    try:
        sessions = selected_sessions(nox_args)
    except (RuntimeError, json.JSONDecodeError) as error:
        print(f"peers_table: cannot list the sessions: {error}", file=sys.stderr)
        return EXIT_LIST_FAILED
    if not sessions:
        print("peers_table: the selection names no peers session")
        return 1
    recorded = recorded_results(options.results.resolve())
    if options.clear:
        for selected in sessions:
            if selected.session in recorded:
                recorded[selected.session][0].unlink()
        return 0
    rows: list[list[str]] = []
    notes: list[str] = []
    agreed = unsupported = 0
    for selected in sessions:
        cells, ok, session_notes = row(selected, recorded)
        rows.append(cells)
        agreed += ok
        unsupported += cells[-1] == "NOT SUPPORTED"
        notes += session_notes
    print()
    print(render(rows))
    for note in notes:
        print(f"  {note}")
    print()
    differ = len(sessions) - agreed
    print(
        f"peers: {agreed - unsupported} same under native as stock, {differ} not,"
        f" {unsupported} not supported by the package"
    )
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
