"""Timing whole processes: one run, interleaved rounds, a cold page cache, test files."""

import os
import subprocess
import sys
import time

from . import machine

DROP_CACHES = "/proc/sys/vm/drop_caches"


def log(script, *words):
    print(f"{script}:", *words, flush=True)


def run_once(argv, stdout=subprocess.DEVNULL):
    """Runs `argv` to completion; returns (wall seconds, CPU seconds = user + system, output).
    Exits the script if the command fails: a benchmark of a failing command means nothing."""
    start = time.perf_counter()
    proc = subprocess.Popen([str(a) for a in argv], stdout=stdout, stderr=subprocess.PIPE)
    output = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed with status {code}: {err.decode(errors='replace')[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, output


def can_drop_caches():
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


def drop_caches():
    """Writes dirty pages back and drops the whole page cache (root only): every
    file, not only ours, is read from the disk again afterwards."""
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("3\n")


def interleaved(commands, runs, before_each=None, after_each=None):
    """Runs every (label, argv) `runs` times in rounds, each round starting
    with a different command, so a change in machine load hits all alike.
    before_each() runs before each timed command (e.g. drop caches), untimed;
    after_each(label, output) after it. Returns {label: [(wall, cpu), ...]}."""
    times = {label: [] for label, _ in commands}
    for round_number in range(runs):
        shift = round_number % len(commands)
        for label, argv in commands[shift:] + commands[:shift]:
            if before_each:
                before_each()
            wall, cpu, output = run_once(argv, subprocess.PIPE)
            times[label].append((wall, cpu))
            if after_each:
                after_each(label, output)
    return times


def make_random_file(path, size):
    """`size` bytes of incompressible data (no two MiB alike), left in the page cache."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
            block = block[1:] + block[:1]


def free_space(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def load_note(before, after):
    return f"(1, 5, 15 min) {before} before, {after} after"


def current_load():
    return machine.load_average()
