#!/usr/bin/env python3
"""Builds the gzip'd initramfs that the VM tests boot: busybox, /init, kernel
modules and test programs.

Written in Python (newc cpio + gzip from the standard library) rather than with
the cpio tool, so the archive's layout is exactly what the code says: no host
paths, owners or timestamps leak in, and the same inputs give the same bytes.
"""

import gzip
import io
import os
import stat
import sys

TRAILER = "TRAILER!!!"


class Archive:
    """An in-memory newc ("070701") cpio archive: the format the kernel unpacks."""

    def __init__(self):
        self._out = io.BytesIO()
        self._ino = 1
        self._dirs = set()

    def _entry(self, name, mode, data=b"", nlink=1):
        name_bytes = name.encode() + b"\0"
        fields = [self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0,
                  len(name_bytes), 0]
        self._ino += 1
        self._out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        self._out.write(name_bytes)
        self._pad()
        self._out.write(data)
        self._pad()

    def _pad(self):
        self._out.write(b"\0" * (-self._out.tell() % 4))

    def directory(self, path):
        """Adds `path` and any missing parents (paths are relative, no leading /)."""
        path = path.strip("/")
        if not path or path in self._dirs:
            return
        self.directory(os.path.dirname(path))
        self._dirs.add(path)
        self._entry(path, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        self.directory(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def host_file(self, src, dest, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = 0o755 if os.access(src, os.X_OK) else 0o644
        self.file(dest, data, mode)

    def symlink(self, path, target):
        path = path.strip("/")
        self.directory(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def finish(self):
        """Returns the gzip'd archive (the kernel needs CONFIG_RD_GZIP, which Debian sets)."""
        self._entry(TRAILER, 0)
        return gzip.compress(self._out.getvalue(), compresslevel=6, mtime=0)


def build(out_path, busybox, init_script, config_text, files):
    """Writes the initramfs to `out_path`.

    files: (host path, guest path) pairs: test programs, modules, data.
    config_text: shell text that /init sources (what to load and run).
    """
    archive = Archive()
    for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "modules", "root"):
        archive.directory(d)
    archive.host_file(busybox, "bin/busybox", 0o755)
    # /init's interpreter; every other applet is linked by /init at boot.
    archive.symlink("bin/sh", "busybox")
    archive.host_file(init_script, "init", 0o755)
    archive.file("etc/mmapx-vm.conf", config_text.encode())
    for src, dest in files:
        archive.host_file(src, dest)
    data = archive.finish()
    with open(out_path, "wb") as f:
        f.write(data)
    return len(data)


if __name__ == "__main__":
    # Stand-alone use, for looking inside: initramfs.py OUT BUSYBOX INIT [SRC:DEST ...]
    if len(sys.argv) < 4:
        sys.exit("usage: initramfs.py OUT BUSYBOX INIT [SRC:DEST ...]")
    pairs = [tuple(arg.split(":", 1)) for arg in sys.argv[4:]]
    size = build(sys.argv[1], sys.argv[2], sys.argv[3], "", pairs)
    print(f"{sys.argv[1]}: {size} bytes")
