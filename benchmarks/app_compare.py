#!/usr/bin/env python3
"""The application table: each workload of ``benchmarks/app.py`` on Django's
own dispatcher (``FASTDISPATCH_DISABLE=1``) and on fastdispatch, in separate
processes, in interleaved rounds of one run; then the instructions each
workload takes (callgrind), and the share of its time that Django's ``send``
takes (cProfile, stock).

    python benchmarks/app_compare.py              # full run, ~15 minutes
    python benchmarks/app_compare.py --quick      # smoke run, rough numbers
    python benchmarks/app_compare.py --rows save,wsgi --no-callgrind

Each round runs app.py under pyperf once per dispatcher (which goes first
alternates), appending to ``stock.json`` and ``native.json`` in ``--out``
(default ``bench-results/app/``); ``python -m pyperf compare_to stock.json
native.json`` reads them too. The table and its numbers also go to
``app.json``. Nothing here asserts anything about timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
APP = HERE / "app.py"
DISPATCHERS = ("stock", "native")
REGION = "fastdispatch_bench_region"


def environment(dispatcher: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("FASTDISPATCH_DISABLE", None)
    if dispatcher == "stock":
        env["FASTDISPATCH_DISABLE"] = "1"
    return env


def run_rounds(args: argparse.Namespace, out: Path) -> dict[str, Path]:
    files = {dispatcher: out / f"{dispatcher}.json" for dispatcher in DISPATCHERS}
    for path in files.values():
        path.unlink(missing_ok=True)
    pyperf_options = ["--quiet", "--inherit-environ", "FASTDISPATCH_DISABLE"]
    if args.quick:
        pyperf_options += ["--processes", "1", "--values", "1", "--warmups", "1"]
        pyperf_options += ["--loops", "1"]
    else:
        pyperf_options += ["--processes", str(args.processes)]
        pyperf_options += ["--values", str(args.values)]
    if args.rows:
        pyperf_options += ["--rows", args.rows]
    rounds = 1 if args.quick else args.rounds
    for index in range(rounds):
        order = DISPATCHERS if index % 2 == 0 else DISPATCHERS[::-1]
        for dispatcher in order:
            print(f"round {index + 1}/{rounds}: {dispatcher}", flush=True)
            subprocess.run(
                [sys.executable, str(APP), *pyperf_options, "--append"]
                + [str(files[dispatcher])],
                check=True,
                env=environment(dispatcher),
            )
    return files


def load_suites(files: dict[str, Path]) -> dict[str, Any]:
    import pyperf

    suites = {}
    for dispatcher, path in files.items():
        suite = pyperf.BenchmarkSuite.load(str(path))
        for benchmark in suite.get_benchmarks():
            found = benchmark.get_metadata().get("dispatcher")
            if found != dispatcher:
                raise SystemExit(
                    f"{path.name}: {benchmark.get_name()} ran on the {found} "
                    f"dispatcher, not {dispatcher}"
                )
        suites[dispatcher] = suite
    return suites


def callgrind_counts(args: argparse.Namespace, out: Path) -> dict[str, dict]:
    """Instructions per workload and dispatcher, from one callgrind run each."""
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts", file=sys.stderr)
        return {}
    counts: dict[str, dict] = {}
    for dispatcher in DISPATCHERS:
        with tempfile.TemporaryDirectory() as scratch:
            command = [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--toggle-collect={REGION}",
                f"--dump-after={REGION}",
                f"--callgrind-out-file={scratch}/callgrind.out",
                sys.executable,
                str(APP),
                "--callgrind",
            ]
            if args.rows:
                command += ["--rows", args.rows]
            env = environment(dispatcher)
            env["APP_BENCH_BUILD"] = str(out / ".build")
            print(f"callgrind: {dispatcher}", flush=True)
            done = subprocess.run(
                command, check=True, env=env, capture_output=True, text=True
            )
            keys = done.stdout.split()
            # One dump per region, numbered in the order the workloads ran.
            dumps = sorted(
                Path(scratch).glob("callgrind.out.*"),
                key=lambda path: int(path.name.rsplit(".", 1)[1]),
            )
            if len(dumps) != len(keys):
                raise SystemExit(
                    f"callgrind: {len(dumps)} profiles for {len(keys)} workloads"
                )
            for key, dump in zip(keys, dumps, strict=True):
                counts.setdefault(key, {})[dispatcher] = instructions(dump)
    return counts


def instructions(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"{dump}: no instruction total")


def send_shares(args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, str(APP), "--profile"]
    if args.rows:
        command += ["--rows", args.rows]
    print("cProfile: stock", flush=True)
    done = subprocess.run(
        command, check=True, env=environment("stock"), capture_output=True, text=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line]
    return {line["key"]: line["send_share"] for line in lines}


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def build_rows(
    suites: dict[str, Any], counts: dict[str, dict], shares: dict[str, float]
) -> list[dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    from app import WORKLOADS

    rows = []
    for workload in WORKLOADS:
        try:
            benchmarks = {
                dispatcher: suites[dispatcher].get_benchmark(workload.title)
                for dispatcher in DISPATCHERS
            }
        except KeyError:
            continue  # not selected
        row: dict[str, Any] = {"key": workload.key, "title": workload.title}
        for dispatcher, benchmark in benchmarks.items():
            values = benchmark.get_values()
            row[dispatcher] = {
                "mean": benchmark.mean(),
                "stdev": benchmark.stdev() if len(values) > 1 else 0.0,
                "min": min(values),
                "values": len(values),
            }
        row["ratio_mean"] = row["stock"]["mean"] / row["native"]["mean"]
        row["ratio_min"] = row["stock"]["min"] / row["native"]["min"]
        # The run's noise: the larger relative spread of the two sides.
        row["noise"] = max(
            row[dispatcher]["stdev"] / row[dispatcher]["mean"]
            for dispatcher in DISPATCHERS
        )
        if workload.key in counts:
            row["instructions"] = counts[workload.key]
            row["instructions_ratio"] = (
                counts[workload.key]["stock"] / counts[workload.key]["native"]
            )
        if workload.key in shares:
            row["send_share_stock"] = shares[workload.key]
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    header = (
        "| workload | Django | fastdispatch | ratio (mean) | ratio (min) | noise "
        "| instructions Django | instructions fastdispatch | ratio | send's share "
        "(Django) |"
    )
    lines = [header, "|" + "---|" * 10]
    for row in rows:
        stock, native = row["stock"], row["native"]
        counts = row.get("instructions")
        lines.append(
            "| "
            + " | ".join(
                [
                    row["title"],
                    f"{milliseconds(stock['mean'])} ± {stock['stdev'] * 1e3:.1f}",
                    f"{milliseconds(native['mean'])} ± {native['stdev'] * 1e3:.1f}",
                    f"{row['ratio_mean']:.2f}x",
                    f"{row['ratio_min']:.2f}x",
                    f"±{row['noise'] * 100:.0f}%",
                    f"{counts['stock']:,}" if counts else "n/a",
                    f"{counts['native']:,}" if counts else "n/a",
                    f"{row['instructions_ratio']:.2f}x" if counts else "n/a",
                    f"{row['send_share_stock'] * 100:.0f}%"
                    if "send_share_stock" in row
                    else "n/a",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def versions() -> dict[str, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; print(django.get_version())",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        "python": platform.python_version(),
        "django": done.stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--rows", help="comma-separated workload keys of app.py")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2, help="per round")
    parser.add_argument("--values", type=int, default=3, help="per process")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "app")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    about = versions()
    files = run_rounds(args, args.out)
    suites = load_suites(files)
    counts = {} if args.no_callgrind else callgrind_counts(args, args.out)
    shares = {} if args.no_profile else send_shares(args)
    rows = build_rows(suites, counts, shares)
    table = render(rows)
    print()
    print(
        f"Application workloads, Python {about['python']}, Django {about['django']}, "
        f"{about['machine']}, {about['date']}"
    )
    print(table)
    print(
        "\nratio: Django's time / fastdispatch's (pyperf mean and min over all "
        "values of the interleaved rounds); noise: the larger relative standard "
        "deviation of the two; instructions: callgrind, one run of the workload "
        "after a warm-up; send's share: time inside Django's send methods "
        "(receivers included), cProfile, stock."
    )
    (args.out / "app.json").write_text(
        json.dumps({"about": about, "rows": rows}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
