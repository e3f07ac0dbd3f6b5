#!/usr/bin/env python3
"""Proves the VM harness cannot mistake a broken guest for a passing one: each
kind of failure, provoked inside the guest by harness_test's hidden cases,
must make run.py exit 1 with the matching explanation.

    harness_selftest.py RUN_PY HARNESS_TEST
"""

import subprocess
import sys

# (Catch2 tag to run, extra run.py options, text the verdict must contain)
CASES = [
    ("[.provoke-failure]", [], "test failed in the guest"),
    ("[.provoke-warning]", [], "kernel log findings"),
    ("[.provoke-panic]", [], "no verdict from the guest"),
    ("[.provoke-hang]", ["--timeout", "12"], "guest killed after the 12 s timeout"),
]


def main(run_py, program):
    failures = 0
    for tag, options, expected in CASES:
        result = subprocess.run([sys.executable, run_py, *options, program, tag],
                                capture_output=True, text=True)
        if result.returncode == 77:
            print(result.stdout, end="")
            return 77
        verdict = result.stdout[result.stdout.rfind("FAIL ("):]
        if result.returncode == 1 and expected in verdict:
            print(f"ok: {tag} -> {verdict.splitlines()[1].strip()}")
        else:
            failures += 1
            print(f"NOT DETECTED: {tag} gave exit {result.returncode}, expected 1 and "
                  f"{expected!r}; output:\n{result.stdout}{result.stderr}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
