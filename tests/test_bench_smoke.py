"""Smoke run of the side-by-side benchmark, ``benchmarks/compare.py --quick``.

It checks that the script runs, that its JSON has every row and library, that
fastdispatch's ``send`` results matched Django's in every row (the script
cross-checks them before timing), and that the chart was drawn. Nothing here
looks at timings: the machine is shared and noisy.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.django_layout import HAS_ASYNC

for _module in ("blinker", "psygnal", "matplotlib"):
    pytest.importorskip(
        _module, reason=f"benchmark dependency {_module} is not installed"
    )

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "compare.py"
LIBRARIES = ("django", "fastdispatch", "blinker", "psygnal")
SEND_ROWS = (
    "send_0",
    "send_1",
    "send_10",
    "send_100",
    "send_cached_0",
    "send_cached_1",
    "send_cached_10",
    "send_cached_100",
    "send_robust_10",
    "send_filtered_100",
)
# asend and asend_robust (Django 5.0 and later): sync receivers, receivers
# of other senders only, then async receivers.
ASEND_ROWS = (
    tuple(f"{method}_{n}" for method in ("asend", "asend_robust") for n in (0, 1, 10))
    + tuple(f"{method}_other_senders_10" for method in ("asend", "asend_robust"))
    + tuple(
        f"{method}_async_{n}" for method in ("asend", "asend_robust") for n in (1, 10)
    )
    if HAS_ASYNC
    else ()
)
ROWS = (
    *SEND_ROWS,
    *ASEND_ROWS,
    "cycle_1000",
    "cycle_10000",
    "memory_tracemalloc",
    "memory_rss",
)
# (row, library) pairs that have no result, by design.
NOT_APPLICABLE = {
    *((row, lib) for row in SEND_ROWS if "cached" in row for lib in LIBRARIES[2:]),
    ("send_robust_10", "blinker"),
    ("send_robust_10", "psygnal"),
    ("send_filtered_100", "psygnal"),
    *((row, lib) for row in ASEND_ROWS for lib in LIBRARIES[2:]),
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-results")
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=ROOT,
    )
    return proc, out


@pytest.fixture(scope="module")
def report(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "compare.json").read_text())


def test_exits_zero_and_prints_the_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Ratio to Django" in proc.stdout
    assert "Dispatcher overhead" in proc.stdout


def test_json_has_every_row_and_library(report):
    assert report["meta"]["libraries"] == list(LIBRARIES)
    assert [row["id"] for row in report["rows"]] == list(ROWS)
    for row in report["rows"]:
        assert set(row["results"]) == set(LIBRARIES), row["id"]
        for lib in LIBRARIES:
            result = row["results"][lib]
            if (row["id"], lib) in NOT_APPLICABLE:
                assert result is None, (row["id"], lib)
                assert row["not_applicable"][lib], (row["id"], lib)
            else:
                assert result is not None, (row["id"], lib)
                assert result["median"] > 0, (row["id"], lib)
                assert result["ratio_to_django"] > 0, (row["id"], lib)
                if row["id"] in SEND_ROWS:
                    assert "overhead" in result, (row["id"], lib)


def test_fastdispatch_sends_exactly_as_django(report):
    rows = {row["id"]: row for row in report["rows"]}
    for row_id in SEND_ROWS:
        check = rows[row_id]["check"]
        assert check["fastdispatch_equals_django"] is True, row_id
        assert check["called"]["fastdispatch"] == check["called"]["django"], row_id
        assert check["called"]["django"] == check["expected"], row_id
    for row_id in ("cycle_1000", "cycle_10000"):
        assert rows[row_id]["check"]["fastdispatch_equals_django"] is True, row_id


def test_send_rows_time_the_cost_of_the_results_list(quick_run, report):
    """Each send row also times the C loop that builds Django's list of
    (receiver, response) pairs, and the overhead table shows what it adds."""
    for row in report["rows"]:
        if row["id"] not in SEND_ROWS:
            assert row["results_floor"] is None, row["id"]
            continue
        results_floor = row["results_floor"]
        assert results_floor["median"] > 0, row["id"]
        floor = row["floors"]["kwargs"]["value"]
        assert results_floor["cost"] == pytest.approx(results_floor["value"] - floor)
    proc, _ = quick_run
    assert "results" in proc.stdout.split("Dispatcher overhead")[1].splitlines()[1]


def test_other_libraries_call_the_expected_receivers(report):
    for row in report["rows"]:
        if row["id"] not in SEND_ROWS:
            continue
        check = row["check"]
        for lib in ("blinker", "psygnal"):
            if (row["id"], lib) in NOT_APPLICABLE:
                continue
            # blinker keeps receivers in sets: the order is unspecified.
            assert sorted(check["called"][lib]) == check["expected"], (row["id"], lib)


def test_chart_written(quick_run, report):
    _, out = quick_run
    png = out / "compare.png"
    assert png.exists()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_targeted_rows_are_judged_in_the_table(quick_run, report):
    """Rows with a target carry it in the JSON, and the table says for each
    whether fastdispatch's ratio reached it."""
    targeted = [row for row in report["rows"] if row["target"] is not None]
    assert {row["id"] for row in targeted} >= {
        "send_0",
        "send_1",
        "send_10",
        "send_100",
        "send_filtered_100",
        "cycle_10000",
    }
    proc, _ = quick_run
    section = proc.stdout.split("Targets (")[1].split("\n\n")[0].splitlines()[1:]
    assert len(section) == len(targeted)
    for line, row in zip(section, targeted, strict=True):
        met = row["results"]["fastdispatch"]["ratio_to_django"] >= row["target"]
        assert line.startswith(row["label"])
        assert line.endswith("met" if met else "MISSED"), line


PYTHONS_TABLE = ROOT / "benchmarks" / "pythons_table.py"


def run_pythons_table(*paths):
    return subprocess.run(
        [sys.executable, str(PYTHONS_TABLE), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_pythons_table_sets_runs_side_by_side(quick_run, report, tmp_path):
    """One column per run; a row below its target is starred and makes the
    exit status 1; a run that is missing makes it 2."""
    _, out = quick_run
    slow = json.loads(json.dumps(report))
    row = next(row for row in slow["rows"] if row["id"] == "send_1")
    row["results"]["fastdispatch"]["ratio_to_django"] = row["target"] / 2
    slow["meta"]["versions"]["python"] = "3.99.0"
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "compare.json").write_text(json.dumps(slow))

    proc = run_pythons_table(out, tmp_path / "slow")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert "3.99.0 / " in lines[1]
    send_1 = next(line for line in lines if line.startswith(row["label"] + " "))
    first, second = send_1.split()[-3:-1]
    assert second == f"{row['target'] / 2:.2f}x*"
    real = next(r for r in report["rows"] if r["id"] == "send_1")
    assert (
        first.rstrip("*")
        == f"{real['results']['fastdispatch']['ratio_to_django']:.2f}x"
    )

    missing = run_pythons_table(out, tmp_path / "absent")
    assert missing.returncode == 2
    assert "no compare.json in" in missing.stderr
