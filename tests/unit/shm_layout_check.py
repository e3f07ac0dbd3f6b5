#!/usr/bin/env python3
"""Reads what shm_test.cpp wrote into POSIX shared memory using only Python's
own mmap and struct modules: proof that the layout of a mapped struct is plain
bytes any language can read, with no library in between.

    shm_layout_check.py NAME

NAME is the shm name ("/mmapx-..."); Linux keeps POSIX shm objects in /dev/shm.
Writes a reply into the reply field, so the C++ side sees Python's write too.
"""

import mmap
import struct
import sys

# Must match `struct layout` in shm_test.cpp: little-endian, natural alignment.
LAYOUT = struct.Struct("<I H 2x q d 16s I")
MAGIC = 0x4D4D4150  # "MMAP"


def main(name):
    with open("/dev/shm/" + name.lstrip("/"), "r+b") as f:
        with mmap.mmap(f.fileno(), LAYOUT.size) as m:
            magic, small, big, real, text, _ = LAYOUT.unpack_from(m, 0)
            expected = (MAGIC, 0xBEEF, -1234567890123, 2.5, b"hello, python")
            got = (magic, small, big, real, text.rstrip(b"\0"))
            if got != expected:
                print(f"layout mismatch: got {got}, expected {expected}")
                return 1
            struct.pack_into("<I", m, LAYOUT.size - 4, 0x600DF00D)
    print("python read the C++ struct correctly")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
