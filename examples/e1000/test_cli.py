#!/usr/bin/env python3
"""Command-line checks of mmapx-e1000 and e1000-afpacket that need no device.

    test_cli.py MMAPX_E1000 E1000_AFPACKET

Every number on these command lines is read as every mmapx tool reads them
(mmapx::parse_number: decimal, 0x or 0b, no sign, a leading 0 still
decimal) and checked before any device or interface is touched, so a bad
one is exit status 2 with a message naming the argument and the text. The
driver's own rules (a ring's multiple of 8, the window below the ring) show
that a good number arrived with the right value.
"""
import subprocess
import sys

E1000, AFPACKET = sys.argv[1], sys.argv[2]
A, B = "0000:00:03.0", "0000:00:04.0"  # never opened: every case fails before

CASES = [
    ([E1000, "send", A, "abc"], "COUNT must be 1 to 2^32-1, not 'abc'"),
    ([E1000, "send", A, "0"], "COUNT must be 1 to 2^32-1, not '0'"),
    ([E1000, "send", A, "4294967296"], "COUNT must be 1 to 2^32-1, not '4294967296'"),
    ([E1000, "send", A, "5", "-60"], "SIZE must be a number of bytes or 'mixed', not '-60'"),
    ([E1000, "send", A, "5", "60 "], "SIZE must be a number of bytes or 'mixed', not '60 '"),
    ([E1000, "recv", A, "5", "0"], "SECONDS must be 1 to 86400, not '0'"),
    ([E1000, "recv", A, "5", "86401"], "SECONDS must be 1 to 86400, not '86401'"),
    ([E1000, "loop", A, B, "10", "60", "--rx-ring=abc"], "--rx-ring must be a number of descriptors, not 'abc'"),
    ([E1000, "loop", A, B, "10", "60", "--rx-ring="], "--rx-ring must be a number of descriptors, not ''"),
    ([E1000, "loop", A, B, "10", "60", "--tx-ring=-8"], "--tx-ring must be a number of descriptors, not '-8'"),
    ([E1000, "loop", A, B, "10", "60", "--window=1k"], "--window must be 1 to 2^32-1, not '1k'"),
    # 010 is ten, not octal eight: ten is no multiple of 8.
    ([E1000, "loop", A, B, "10", "60", "--rx-ring=010"], "receive ring of 10 descriptors"),
    # 0x10 is sixteen: a valid ring, smaller than the default window of 128.
    ([E1000, "loop", A, B, "10", "60", "--rx-ring=0x10"], "must be smaller than the receive ring (16 descriptors)"),
    ([E1000, "loop", A, B, "10", "60", "--rx-ring=0b1000000", "--window=0x40"],
     "must be smaller than the receive ring (64 descriptors)"),
    ([AFPACKET, "eth0", "eth1", "-1", "60"], "COUNT must be 1 to 2^32-1, not '-1'"),
    ([AFPACKET, "eth0", "eth1", "10", "0x3b"], "SIZE must be 60 to 1514 or 'mixed', not '0x3b'"),
    ([AFPACKET, "eth0", "eth1", "10", "60", "4097"], "WINDOW must be 1 to 4096, not '4097'"),
    ([AFPACKET, "eth0", "eth1", "10", "60", "+5"], "WINDOW must be 1 to 4096, not '+5'"),
]

failures = 0
for argv, expected in CASES:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    shown = " ".join(argv[1:])
    if r.returncode != 2 or expected not in r.stderr or r.stdout:
        failures += 1
        print(f"FAIL {shown}: exit {r.returncode}, stderr {r.stderr!r}, stdout {r.stdout!r}; expected exit 2 and {expected!r}")
    else:
        print(f"ok   {shown}")
print(f"{len(CASES) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
