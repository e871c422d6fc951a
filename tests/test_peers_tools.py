"""The tools of ``make peers``: scripts/peers_probe.py records what a suite
ran, scripts/peers_table.py compares the stock and native runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SUITE = textwrap.dedent(
    """
    import sys
    import unittest


    class Passing(unittest.TestCase):
        def test_ok(self):
            pass

        @unittest.skip("no")
        def test_skipped(self):
            pass

        def test_fails(self):
            self.fail("no")

        def test_errors(self):
            raise ValueError

        def test_subtest_fails(self):
            for i in range(2):
                with self.subTest(i=i):
                    self.assertEqual(i, 0)


    class BrokenSetup(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            raise RuntimeError

        def test_never(self):
            pass


    if __name__ == "__main__":
        result = unittest.main(exit=False, module="__main__").result
        sys.exit(len(result.failures) + len(result.errors))
    """
)


def test_probe_records_what_a_unittest_runner_ran(tmp_path: Path) -> None:
    script = tmp_path / "runtests.py"
    script.write_text(SUITE)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "peers_probe.py"), str(script)],
        cwd=tmp_path,
        env={"FASTDISPATCH_PEERS_REPORT": str(report), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0, done.stderr
    found = json.loads(report.read_text())
    prefix = "__main__.Passing."
    assert found["runner"] == "django"
    assert {f"{prefix}{name}" for name in ("test_ok", "test_fails")} <= set(
        found["tests"]
    )
    assert set(found["failed"]) == {
        f"{prefix}test_fails",
        f"{prefix}test_errors",
        f"{prefix}test_subtest_fails",
        "setUpClass (__main__.BrokenSetup)",
    }
    assert found["skipped"] == [f"{prefix}test_skipped"]
    assert "dispatcher" in found


def result(stock_failed: list[str], native_failed: list[str]) -> dict:
    tests = ["a", "b", "c"]
    return {
        "session": "s",
        "python": "3.11",
        "status": "ok" if stock_failed == native_failed else "failed",
        "installed": {"django": "5.2.1", "pkg": "1.0"},
        "stock": {"tests": tests, "failed": stock_failed},
        "native": {"tests": tests, "failed": native_failed},
        "failing_only_under_native": sorted(set(native_failed) - set(stock_failed)),
    }


def test_table_row_lists_tests_failing_only_under_native() -> None:
    table = load("peers_table")
    selected = table.Selected(session="s", python="3.11", django="5.2", package="pkg")
    cells, ok, notes = table.row(
        selected, {"s": (Path("s.json"), result(["a"], ["a"]))}
    )
    assert ok and cells[3:7] == ["3/3", "1", "1", "0"] and not notes
    cells, ok, notes = table.row(
        selected, {"s": (Path("s.json"), result(["a"], ["a", "b"]))}
    )
    assert not ok and cells[6] == "1" and cells[-1] == "DIFFERS"
    assert "    b" in notes
    cells, ok, notes = table.row(selected, {})
    assert not ok and cells[-1] == "MISSING"
