#!/usr/bin/env python3
"""Tests of the mmcp program as users run it.

  test_mmcp.py MMCP [GROUP]

GROUP is one of: small (the default: every case on small files), large (a
5 GiB sparse file, data past 4 GiB), full-disk (a size-limited tmpfs mounted
for the test; needs root, else exit 77 = skipped). Copies are compared byte
for byte and hole for hole (SEEK_DATA/SEEK_HOLE maps, and st_blocks up to the
filesystem's own index blocks).
"""

import errno
import os
import pty
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

MMCP = None
MiB = 1 << 20
GiB = 1 << 30


def run(*args, stderr_tty=False, preexec=None, timeout=600):
    """Runs mmcp; returns (exit status, stdout, stderr)."""
    argv = [MMCP] + [str(a) for a in args]
    if not stderr_tty:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)
        return p.returncode, p.stdout, p.stderr
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError as e:  # EIO: the program closed the terminal
            if e.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return p.wait(timeout=timeout), "", b"".join(chunks).decode(errors="replace")


def pattern(n, seed=0):
    block = bytes((i * 131 + seed) % 251 for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


def write(path, data, mode=0o644):
    Path(path).write_bytes(data)
    os.chmod(path, mode)


def data_map(path):
    """The (offset, length) data extents of a file, from SEEK_DATA/SEEK_HOLE."""
    extents = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
            extents.append((data, hole - data))
            pos = hole
    finally:
        os.close(fd)
    return extents


def read_range(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def assert_same_copy(src, dst):
    """Byte for byte, hole for hole, mode for mode."""
    for path in (src, dst):  # allocate delayed blocks, so st_blocks counts the same things in both
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    s, d = os.stat(src), os.stat(dst)
    assert s.st_size == d.st_size, f"sizes differ: {s.st_size} != {d.st_size}"
    smap, dmap = data_map(src), data_map(dst)
    assert smap == dmap, f"data maps differ:\n  {smap}\n  {dmap}"
    # st_blocks also counts the filesystem's own blocks for the file (ext4's extent-tree
    # index blocks: one 4 KiB block more when the source was written in more fragments
    # than the copy, seen in CI as 196616 != 196608 for 96 MiB). Space reserved or
    # allocated over a hole, what this check is for, is at least a whole data block per
    # hole and shows in the data maps above; the slack covers the index blocks only.
    slack = 8 * (2 + s.st_size // (64 * MiB))  # 512-byte units: 4 KiB per 64 MiB, plus 8 KiB
    assert abs(s.st_blocks - d.st_blocks) <= slack, \
        f"allocated blocks differ: {s.st_blocks} != {d.st_blocks} (more than {slack} apart)"
    for offset, length in smap:  # outside the map both are holes: zeros
        for at in range(offset, offset + length, 64 * MiB):
            n = min(64 * MiB, offset + length - at)
            assert read_range(src, at, n) == read_range(dst, at, n), f"bytes differ in [{at}, {at + n})"
    assert stat.S_IMODE(s.st_mode) == stat.S_IMODE(d.st_mode), \
        f"modes differ: {oct(s.st_mode)} != {oct(d.st_mode)}"


def assert_fails(result, message, status=1):
    code, out, err = result
    assert code == status, f"exit status {code}, expected {status}; stderr: {err!r}"
    assert message in err, f"expected {message!r} in stderr {err!r}"


def leftovers(directory, expected):
    """Files in `directory` besides `expected` (a failed copy must leave none)."""
    return sorted(set(os.listdir(directory)) - set(expected))


def make_sparse(path, size, pieces):
    """A file of `size` bytes with data only at the (offset, bytes) pieces."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in pieces:
            f.seek(offset)
            f.write(data)


# --- small files ----------------------------------------------------------------

def test_plain_copy_keeps_bytes_and_mode(d):
    for mode in (0o644, 0o600, 0o755, 0o4750):
        write(d / "src", pattern(3 * MiB + 17, mode), mode)
        code, out, err = run(d / "src", d / "dst")
        assert (code, out, err) == (0, "", ""), (code, out, err)
        assert_same_copy(d / "src", d / "dst")


def test_empty_file(d):
    write(d / "empty", b"", 0o640)
    assert run(d / "empty", d / "copy")[0] == 0
    assert (d / "copy").read_bytes() == b""
    assert stat.S_IMODE(os.stat(d / "copy").st_mode) == 0o640


def test_every_strategy_and_window(d):
    make_sparse(d / "src", 10 * MiB + 5, [(0, pattern(70000, 1)), (3 * MiB, pattern(2 * MiB + 9, 2)),
                                         (10 * MiB - 100, pattern(105, 3))])
    strategies = []
    help_text = run("--help")[1]
    listing = help_text.split("Strategies:\n")[1].split("\n\n")[0]
    strategies = [line.split()[0] for line in listing.splitlines()]
    assert "write" in strategies and "mmap" in strategies, strategies
    for name in strategies:
        for window in ("64K", "2M", "64M"):
            (d / "dst").unlink(missing_ok=True)
            code, _, err = run(f"--strategy={name}", f"--window={window}", "--verify", d / "src", d / "dst")
            assert code == 0, (name, window, err)
            assert_same_copy(d / "src", d / "dst")
        for threads in ("1", "3"):  # windows copied on several threads at once
            (d / "dst").unlink(missing_ok=True)
            code, _, err = run(f"--strategy={name}", "--window=64K", f"--threads={threads}", "--verify",
                               d / "src", d / "dst")
            assert code == 0, (name, threads, err)
            assert_same_copy(d / "src", d / "dst")


def test_sparse_file_keeps_holes(d):
    make_sparse(d / "src", 64 * MiB, [(1 * MiB, pattern(4096)), (40 * MiB, pattern(MiB + 4096, 9))])
    assert run(d / "src", d / "dst")[0] == 0
    assert_same_copy(d / "src", d / "dst")
    assert os.stat(d / "dst").st_blocks * 512 < 4 * MiB  # still sparse
    make_sparse(d / "holes", 8 * MiB, [])  # nothing but a hole
    assert run(d / "holes", d / "holes-copy")[0] == 0
    assert_same_copy(d / "holes", d / "holes-copy")
    assert data_map(d / "holes-copy") == []


def test_same_file_is_refused(d):
    data = pattern(100000)
    write(d / "a", data)
    os.link(d / "a", d / "hardlink")
    os.symlink("a", d / "symlink")
    (d / "sub").mkdir()
    os.symlink("../a", d / "sub" / "a")
    cases = [(d / "a", d / "a"), (d / "a", d / "hardlink"), (d / "a", d / "symlink"),
             (d / "symlink", d / "a"), (d / "a", d), (d / "a", d / "sub")]
    for src, dst in cases:
        assert_fails(run(src, dst), "are the same file")
        assert (d / "a").read_bytes() == data, (src, dst)
    assert leftovers(d, ["a", "hardlink", "symlink", "sub"]) == []


def test_directories_and_devices_are_refused(d):
    (d / "dir").mkdir()
    assert_fails(run(d / "dir", d / "x"), f"mmcp: cannot copy '{d / 'dir'}': Is a directory")
    assert_fails(run("/dev/null", d / "x"), "mmcp: cannot copy '/dev/null': not a regular file")
    os.mkfifo(d / "fifo")
    assert_fails(run(d / "fifo", d / "x", timeout=20), "not a regular file")  # and does not hang
    write(d / "src", b"data")
    assert_fails(run(d / "src", "/dev/null"), "mmcp: cannot overwrite '/dev/null': not a regular file")
    assert not (d / "x").exists()


def test_missing_source_message(d):
    assert_fails(run(d / "nope", d / "x"), f"mmcp: cannot open '{d / 'nope'}': No such file or directory")
    assert_fails(run(d / "nope", d / "x"), "mmcp: cannot open")
    code, _, err = run("relative-missing", d / "x")
    assert (code, err) == (1, "mmcp: cannot open 'relative-missing': No such file or directory\n"), err


def test_destination_directory(d):
    write(d / "src.dat", pattern(5000), 0o600)
    (d / "into").mkdir()
    assert run(d / "src.dat", d / "into")[0] == 0
    assert_same_copy(d / "src.dat", d / "into" / "src.dat")
    (d / "into" / "src.dat").unlink()
    assert run(d / "src.dat", str(d / "into") + "/")[0] == 0
    assert_same_copy(d / "src.dat", d / "into" / "src.dat")
    assert leftovers(d / "into", ["src.dat"]) == []
    assert_fails(run(d / "src.dat", str(d / "nodir") + "/"), "Not a directory")


def test_several_sources_into_directory(d):
    write(d / "one", pattern(1000, 1))
    write(d / "two", pattern(2000, 2))
    (d / "out").mkdir()
    assert run(d / "one", d / "two", d / "out")[0] == 0
    assert_same_copy(d / "one", d / "out" / "one")
    assert_same_copy(d / "two", d / "out" / "two")
    assert_fails(run(d / "one", d / "two", d / "not-a-dir"), "is not a directory")
    # One bad source: the others are still copied, and the status says something failed.
    code, _, err = run(d / "one", d / "missing", d / "two", d / "out")
    assert code == 1 and "cannot open" in err, (code, err)


def test_overwrite_replaces_contents_and_mode(d):
    write(d / "src", pattern(10000, 4), 0o700)
    write(d / "dst", pattern(50000, 5), 0o666)
    assert run(d / "src", d / "dst")[0] == 0
    assert_same_copy(d / "src", d / "dst")


def test_symlink_destination_is_written_through(d):
    write(d / "src", pattern(4000, 6))
    write(d / "target", b"old")
    os.symlink("target", d / "link")
    assert run(d / "src", d / "link")[0] == 0
    assert (d / "link").is_symlink()
    assert_same_copy(d / "src", d / "target")
    os.symlink("nowhere", d / "dangling")
    assert_fails(run(d / "src", d / "dangling"), "not writing through dangling symlink")
    assert not (d / "nowhere").exists()


def test_verify(d):
    write(d / "src", pattern(5 * MiB, 8))
    code, out, err = run("--verify", d / "src", d / "dst")
    assert (code, out, err) == (0, "", ""), err
    assert_same_copy(d / "src", d / "dst")


def test_file_size_limit_is_a_clear_error(d):
    """RLIMIT_FSIZE: the reservation fails with EFBIG; nothing is left, an old DST is kept."""
    write(d / "src", pattern(4 * MiB, 3))
    write(d / "dst", b"previous contents")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 * MiB, 1 * MiB))

    for strategy in ("write", "mmap"):
        code, _, err = run(f"--strategy={strategy}", d / "src", d / "new", preexec=limit)
        assert code == 1, (strategy, code, err)  # not killed by SIGXFSZ or SIGBUS
        assert err == f"mmcp: cannot resize '{d / 'new'}': File too large\n", err
        assert_fails(run(f"--strategy={strategy}", d / "src", d / "dst", preexec=limit), "File too large")
        assert (d / "dst").read_bytes() == b"previous contents"
        assert leftovers(d, ["src", "dst"]) == [], leftovers(d, ["src", "dst"])


def test_progress_only_on_a_terminal(d):
    write(d / "big", pattern(96 * MiB, 2))
    code, _, err = run(d / "big", d / "copy", stderr_tty=True)
    assert code == 0 and "%" in err and "MiB" in err and "\r" in err, repr(err[:200])
    assert_same_copy(d / "big", d / "copy")
    code, _, err = run(d / "big", d / "copy2")  # stderr is a pipe: quiet
    assert (code, err) == (0, ""), err
    write(d / "small", pattern(1000))
    code, _, err = run(d / "small", d / "copy3", stderr_tty=True)  # a small copy: quiet
    assert (code, err) == (0, ""), repr(err)
    code, _, err = run("--no-progress", d / "big", d / "copy4", stderr_tty=True)
    assert (code, err) == (0, ""), repr(err[:200])
    code, _, err = run("--progress", d / "small", d / "copy5")
    assert code == 0 and "100%" in err, repr(err)


def test_help_version_and_usage_errors(d):
    code, out, err = run("--help")
    assert code == 0 and out.startswith("Usage: mmcp") and err == "", (code, err)
    assert run("-h")[1] == out
    code, out, err = run("--version")
    assert code == 0 and out.startswith("mmcp (mmapx) ") and err == ""
    for args, message in [((), "missing file operand"),
                          (("only-one",), "missing destination file operand after 'only-one'"),
                          (("--frobnicate", "a", "b"), "unrecognized option '--frobnicate'"),
                          (("--strategy=memcpy", "a", "b"), "unknown strategy 'memcpy'"),
                          (("--strategy",), "option requires an argument"),
                          (("--window=3", "a", "b"), "invalid window size"),
                          (("--window=0", "a", "b"), "invalid window size"),
                          (("--window=12Q", "a", "b"), "invalid window size"),
                          (("--window=99999999999G", "a", "b"), "invalid window size"),
                          (("--threads=0", "a", "b"), "invalid thread count"),
                          (("--threads=2K", "a", "b"), "invalid thread count"),
                          (("--threads=-1", "a", "b"), "invalid thread count"),
                          (("--threads=1025", "a", "b"), "invalid thread count"),
                          (("--threads",), "option requires an argument")]:
        code, out, err = run(*args)
        assert code == 2 and message in err and "Try 'mmcp --help'" in err, (args, code, err)
    write(d / "-dash", b"x")
    assert run("--", d / "-dash", d / "copy")[0] == 0


def test_interrupted_copy_leaves_nothing(d):
    """SIGTERM in the middle: no temporary file and no DST remain."""
    write(d / "big", pattern(256 * MiB, 1))
    p = subprocess.Popen([MMCP, "--strategy=mmap", "--window=64K", d / "big", d / "copy"],
                         stderr=subprocess.PIPE)
    # Wait until the temporary file exists, then stop the copy.
    while not any(name.startswith(".copy.mmcp-") for name in os.listdir(d)) and p.poll() is None:
        pass
    p.send_signal(signal.SIGTERM)
    status = p.wait(timeout=60)
    if status == 0:  # finished before the signal arrived: then it must be complete
        assert_same_copy(d / "big", d / "copy")
    else:
        assert status == -signal.SIGTERM, status
        assert leftovers(d, ["big"]) == [], leftovers(d, ["big"])


SMALL = [test_plain_copy_keeps_bytes_and_mode, test_empty_file, test_every_strategy_and_window,
         test_sparse_file_keeps_holes, test_same_file_is_refused, test_directories_and_devices_are_refused,
         test_missing_source_message, test_destination_directory, test_several_sources_into_directory,
         test_overwrite_replaces_contents_and_mode, test_symlink_destination_is_written_through, test_verify,
         test_file_size_limit_is_a_clear_error, test_progress_only_on_a_terminal,
         test_help_version_and_usage_errors, test_interrupted_copy_leaves_nothing]


# --- a 5 GiB sparse file ----------------------------------------------------------

def test_five_gib_sparse(d):
    size = 5 * GiB + 4096 * 3 + 11
    pieces = [(0, pattern(MiB, 1)),                       # at the start
              (2 * GiB - 8192, pattern(3 * MiB, 2)),      # across 2 GiB (31-bit offsets)
              (4 * GiB - 64 * 1024, pattern(2 * MiB, 3)),  # across 4 GiB (32-bit offsets)
              (4 * GiB + 777 * 4096, pattern(100000, 4)),
              (size - 5000, pattern(5000, 5))]             # at the very end
    make_sparse(d / "src", size, pieces)
    os.chmod(d / "src", 0o640)
    for args in ((), ("--strategy=mmap",), ("--verify", "--window=2M"), ("--threads=4", "--window=1M")):
        (d / "dst").unlink(missing_ok=True)
        code, _, err = run(*args, d / "src", d / "dst")
        assert code == 0, (args, err)
        assert_same_copy(d / "src", d / "dst")
        assert os.stat(d / "dst").st_blocks * 512 < 64 * MiB, "the copy is not sparse"


# --- a full file system -------------------------------------------------------------

def test_full_tmpfs(d):
    """A 4 MiB tmpfs: copying 8 MiB into it fails cleanly, with every strategy."""
    mnt = d / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "mmcp-test", mnt], check=True)
    try:
        write(d / "src", pattern(8 * MiB, 1))
        write(mnt / "dst", b"previous contents")
        for strategy in ("write", "mmap", "mmap-populate", "huge", "copy_file_range"):
            code, _, err = run(f"--strategy={strategy}", d / "src", mnt / "new")
            assert code == 1, (strategy, code, err)  # a negative status would be a SIGBUS
            assert err == f"mmcp: cannot reserve space for '{mnt / 'new'}': No space left on device\n", err
            assert_fails(run(f"--strategy={strategy}", d / "src", mnt / "dst"), "No space left on device")
            assert (mnt / "dst").read_bytes() == b"previous contents"
            assert leftovers(mnt, ["dst"]) == [], leftovers(mnt, ["dst"])
        # What fits still copies.
        write(d / "small", pattern(MiB, 2))
        assert run(d / "small", mnt / "small")[0] == 0
        assert_same_copy(d / "small", mnt / "small")
    finally:
        subprocess.run(["umount", mnt], check=True)


def main():
    global MMCP
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    MMCP = os.path.abspath(sys.argv[1])
    group = sys.argv[2] if len(sys.argv) == 3 else "small"
    tests = {"small": SMALL, "large": [test_five_gib_sparse], "full-disk": [test_full_tmpfs]}[group]
    if group == "full-disk" and os.geteuid() != 0:
        print("SKIP: mounting a size-limited tmpfs needs root; the RLIMIT_FSIZE case in 'small' still runs")
        return 77
    failed = 0
    for test in tests:
        with tempfile.TemporaryDirectory(prefix="mmcp-test-") as tmp:
            try:
                test(Path(tmp))
                print(f"ok   {test.__name__}")
            except Exception:  # report every failing case, not only the first
                failed += 1
                print(f"FAIL {test.__name__}")
                traceback.print_exc(file=sys.stdout)
    print(f"{len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
