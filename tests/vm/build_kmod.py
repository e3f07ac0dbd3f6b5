#!/usr/bin/env python3
"""Builds the reference kernel module (kmod/) against the kernel the VM tests
boot, out of the source tree, and collects the *.ko files for run.py.

    build_kmod.py SOURCE_ROOT OUT_DIR STAMP

Kbuild writes its objects next to the sources, so the module's directory is
copied into OUT_DIR first (with include/ reachable as ../include, as from
kmod/). Missing module sources or kernel headers are not build errors: the
stamp records why there is no module, and VM tests that need it skip.
A module that fails to compile is an error.
"""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import installed_kernel  # noqa: E402

BUILD_PRODUCTS = (".o", ".ko", ".mod", ".mod.c", ".cmd", ".symvers", ".order")


def main(source_root, out_dir, stamp):
    def done(message):
        with open(stamp, "w") as f:
            f.write(message + "\n")
        return 0

    source = os.path.join(source_root, "kmod")
    if not any(os.path.isfile(os.path.join(source, n)) for n in ("Makefile", "Kbuild")):
        return done("no module: kmod/ has no Makefile yet")
    version = installed_kernel(os.environ.get("MMAPX_VM_KERNEL_VERSION"))
    if version is None:
        return done("no module: no kernel image with headers installed")
    if shutil.which("make") is None:
        return done("no module: make not found")

    work = os.path.join(out_dir, "src", "kmod")
    # copy2 keeps mtimes, so make rebuilds only what changed.
    shutil.copytree(source, work, dirs_exist_ok=True, copy_function=shutil.copy2,
                    ignore=lambda d, names: [n for n in names if n.endswith(BUILD_PRODUCTS)])
    include_link = os.path.join(out_dir, "src", "include")
    if not os.path.lexists(include_link):
        os.symlink(os.path.join(source_root, "include"), include_link)

    kdir = f"/lib/modules/{version}/build"
    env = dict(os.environ, PWD=work)
    result = subprocess.run(["make", "-C", work, f"KDIR={kdir}"], env=env, cwd=work)
    if result.returncode != 0:
        print(f"build_kmod: make -C {work} KDIR={kdir} failed", file=sys.stderr)
        return result.returncode

    modules = os.path.join(out_dir, "modules")
    shutil.rmtree(modules, ignore_errors=True)
    os.makedirs(modules)
    built = []
    for directory, _, names in os.walk(work):
        for name in names:
            if name.endswith(".ko"):
                shutil.copy2(os.path.join(directory, name), modules)
                built.append(name)
    return done(f"built for {version}: {' '.join(sorted(built)) or 'no .ko produced'}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
