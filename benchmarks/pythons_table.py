#!/usr/bin/env python3
"""The side-by-side runs of several Pythons as one table: fastdispatch's
ratio to Django in each row, per Python, against the row's target.

    python benchmarks/pythons_table.py bench-results/python3.10 bench-results/python3.13

Each argument is a directory (or a file) holding the ``compare.json`` of one
``benchmarks/compare.py`` run (``make bench-pythons`` makes one per Python).
Exits with status 1 when a row misses its target on some Python, 2 when a run
is missing: the table is printed either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any] | None:
    """The report of one run, or None when there is none."""
    file = path / "compare.json" if path.is_dir() else path
    try:
        report: dict[str, Any] = json.loads(file.read_text())
    except FileNotFoundError:
        return None
    return report


def column_heading(report: dict[str, Any]) -> str:
    """'3.10 / 5.2': the run's Python and Django versions."""
    versions = report["meta"]["versions"]
    python = versions["python"].split()[-1]
    return f"{python} / {versions['django']}"


def render(reports: list[dict[str, Any]]) -> tuple[str, bool]:
    """The table, and whether every targeted row met its target everywhere."""
    labels: dict[str, str] = {}
    targets: dict[str, float | None] = {}
    for report in reports:
        for row in report["rows"]:
            labels.setdefault(row["id"], row["label"])
            targets.setdefault(row["id"], row.get("target"))
    headings = [column_heading(report) for report in reports]
    width = max(map(len, labels.values())) + 2
    col = max(14, *(len(heading) + 2 for heading in headings))
    lines = [
        "fastdispatch's ratio to Django (Django's time / fastdispatch's), per"
        " Python / Django; * = below the row's target",
        " " * width + "".join(f"{h:>{col}}" for h in headings) + f"{'target':>10}",
    ]
    lines.append("-" * len(lines[-1]))
    all_met = True
    for row_id, label in labels.items():
        target = targets[row_id]
        cells = []
        for report in reports:
            row = next((r for r in report["rows"] if r["id"] == row_id), None)
            result = row and row["results"].get("fastdispatch")
            if result is None:
                cells.append("n/a")
                continue
            ratio = result["ratio_to_django"]
            missed = target is not None and ratio < target
            all_met &= not missed
            cells.append(f"{ratio:.2f}x{'*' if missed else ' '}")
        target_cell = "" if target is None else f"{target:g}x"
        lines.append(
            f"{label:<{width}}"
            + "".join(f"{cell:>{col}}" for cell in cells)
            + f"{target_cell:>10}"
        )
    lines.append("")
    for report, heading in zip(reports, headings, strict=True):
        meta = report["meta"]
        machine = meta["machine"]
        lines.append(
            f"{heading}: {meta['date']}, git {meta['git'] or 'n/a'}, {meta['mode']}"
            f" mode, {meta['statistic']} of {meta['repeat']} runs, load average"
            f" {machine['load_average_start'][0]:.2f} at start,"
            f" {meta['load_average_end'][0]:.2f} at end ({machine['cpu']})"
        )
    return "\n".join(lines), all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="compare.py outputs")
    args = parser.parse_args(argv)
    reports = []
    missing = []
    for path in args.runs:
        report = load(path)
        if report is None:
            missing.append(str(path))
        else:
            reports.append(report)
    all_met = True
    if reports:
        table, all_met = render(reports)
        print(table)
    for path in missing:
        print(f"pythons_table.py: no compare.json in {path}", file=sys.stderr)
    if missing:
        return 2
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
