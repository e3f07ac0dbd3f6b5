#!/usr/bin/env python3
"""Compiles one test case and judges the result (suite compile_fail).

Usage: check_compile_fail.py CASE.cpp -- COMPILER [FLAGS...]

The first line of CASE.cpp says what must happen:
  // expect-error: REGEX   compilation must fail and the compiler's output must
                           match REGEX (Python syntax, searched, case-sensitive);
  // expect-success        compilation must succeed (the control cases).
Exit 0 when it did, 1 otherwise (printing why and the compiler's output).
"""
import re
import subprocess
import sys


def main(argv):
    if "--" not in argv or argv.index("--") != 2:
        print(__doc__, file=sys.stderr)
        return 2
    case, compiler = argv[1], argv[3:]
    with open(case, encoding="utf-8") as f:
        first = f.readline().strip()
    error = re.match(r"^//\s*expect-error:\s*(.+)$", first)
    if not error and not re.match(r"^//\s*expect-success\s*$", first):
        print("%s: first line must be '// expect-error: REGEX' or '// expect-success'" % case)
        return 1
    done = subprocess.run(compiler + ["-fsyntax-only", case], capture_output=True, text=True)
    output = done.stdout + done.stderr
    if not error:
        if done.returncode == 0:
            print("compiled, as it must")
            return 0
        print("FAIL: the control case must compile, but:\n" + output)
        return 1
    if done.returncode == 0:
        print("FAIL: compiled, but must not (expected a diagnostic matching %r)" % error.group(1))
        return 1
    if re.search(error.group(1), output):
        print("refused, with the expected diagnostic %r" % error.group(1))
        return 0
    print("FAIL: refused, but no diagnostic matches %r:\n%s" % (error.group(1), output))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
