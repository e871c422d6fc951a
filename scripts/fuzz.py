#!/usr/bin/env python3
"""Differential fuzzing of fastdispatch's Signal against the installed Django's,
for as long as asked.

Runs the hypothesis state machine of ``tests/support/differential.py``
(random programs of connect, disconnect, send, has_listeners, dropped receivers
and senders, garbage collection, run on both implementations side by side) in
batches of fresh random programs until the time is up, then prints how many
programs ran. On a difference it prints the program and exits with status 1.

    python scripts/fuzz.py --seconds 60
    python scripts/fuzz.py --seconds 600 --strict     # also the open divergences
    python scripts/fuzz.py --seconds 60 --no-shrink   # report the first failure as is

Needs hypothesis, Django and fastdispatch (installed, with its shim) in the
running interpreter. The reference is that Django's own dispatcher: under
Django X, fastdispatch is held to Django X.
"""

import argparse
import importlib
import importlib.util
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

SUPPORT = Path(__file__).resolve().parent.parent / "tests" / "support"


def import_support(name):
    """``support.<name>``, a module of the test-support package
    ``tests/support``, which is not on ``sys.path`` here: the package is
    imported from its file, its modules then through it."""
    if "support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "support", SUPPORT / "__init__.py"
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules["support"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"support.{name}")


differential = import_support("differential")
DifferentialMachine = differential.DifferentialMachine
KNOWN_OPEN = differential.KNOWN_OPEN
implementations = import_support("reference").implementations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--steps", type=int, default=50, help="steps per program (default 50)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also generate the inputs of the open divergences "
        f"({', '.join(sorted(KNOWN_OPEN))}) and do not compensate them",
    )
    parser.add_argument(
        "--no-shrink",
        action="store_true",
        help="report the first failing program without minimising it",
    )
    args = parser.parse_args(argv)

    implementations()  # load both before the clock starts
    DifferentialMachine.STRICT = args.strict
    phases = [Phase.generate] if args.no_shrink else [Phase.generate, Phase.shrink]
    start = time.monotonic()
    deadline = start + args.seconds
    batches = 0
    per_program = 0.05  # seconds; re-estimated after every batch
    print(
        f"fuzzing for {args.seconds:g} s, {args.steps} steps per program"
        f"{', strict' if args.strict else ''}",
        flush=True,
    )
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            batch = max(1, min(500, int(remaining / per_program)))
            before, batch_start = DifferentialMachine.programs, time.monotonic()
            run_state_machine_as_test(
                DifferentialMachine,
                settings=settings(
                    max_examples=batch,
                    stateful_step_count=args.steps,
                    deadline=None,
                    database=None,
                    derandomize=False,
                    phases=phases,
                    suppress_health_check=list(HealthCheck),
                    print_blob=False,
                ),
            )
            batches += 1
            ran = DifferentialMachine.programs - before
            if ran:
                per_program = (time.monotonic() - batch_start) / ran
    except Exception:
        traceback.print_exc()
        print(
            f"\nFAILED after {DifferentialMachine.programs} programs "
            f"({time.monotonic() - start:.1f} s)",
            flush=True,
        )
        return 1
    elapsed = time.monotonic() - start
    print(
        f"no difference found: {DifferentialMachine.programs} programs "
        f"(examples) of up to {args.steps} steps in {elapsed:.1f} s, "
        f"{batches} batches"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
