#!/usr/bin/env python3
"""Host side of dev_test.cpp's ivshmem case: after the guest has stopped, the
file behind ivshmem-plain's BAR2 must hold the pattern the guest wrote.

    ivshmem_check.py FILE
"""

import struct
import sys

GOLDEN = 0x9E3779B97F4A7C15  # the multiplier dev_test.cpp uses
MASK = (1 << 64) - 1


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    words = struct.unpack(f"<{len(data) // 8}Q", data)
    bad = [i for i, w in enumerate(words) if w != (i * GOLDEN) & MASK]
    if bad or not words:
        print(f"{path}: {len(bad)} of {len(words)} words differ from the guest's pattern"
              + (f", first at byte {bad[0] * 8:#x}" if bad else ""))
        return 1
    print(f"{path}: all {len(words)} words hold the guest's pattern")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
