#!/usr/bin/env python3
"""Runs one test program inside Debian's kernel under QEMU and reports its
verdict as an ordinary exit status: 0 pass, 1 fail, 77 skip.

    run.py [options] PROGRAM [ARG ...]

The guest passes only if all of these hold: QEMU exits through
isa-debug-exit with the "pass" code, the console carries the result marker
with status 0, and the kernel log written while the test ran has no
BUG / WARNING / Call Trace / x86/PAT line. Anything else (a panic, a hang
killed by the timeout, a poweroff without a verdict) is a failure, and the
guest's console and kernel log are printed. See README.md.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import initramfs  # noqa: E402

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
QEMU = "qemu-system-x86_64"
# (v << 1) | 1 for the values /init writes to port 0xf4.
EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0x21, 0x23, 0x25
# A DMAR fault record ("DMAR: [DMA Write NO_PASID] Request device ...") is a
# device DMA the IOMMU blocked: a finding unless the test expects it.
KERNEL_LOG_FINDINGS = re.compile(r"BUG|WARNING|Call Trace|x86/PAT|DMAR: \[DMA")
# Modules of Debian's kernel that tests may load: the UIO backend needs the
# first two; VFIO needs the rest, loaded in this order (VFIO_MODULES).
KERNEL_MODULES = ("kernel/drivers/uio/uio.ko", "kernel/drivers/uio/uio_pci_generic.ko",
                  "kernel/virt/lib/irqbypass.ko", "kernel/drivers/vfio/vfio.ko",
                  "kernel/drivers/vfio/vfio_iommu_type1.ko", "kernel/drivers/vfio/vfio_virqfd.ko",
                  "kernel/drivers/vfio/pci/vfio-pci-core.ko", "kernel/drivers/vfio/pci/vfio-pci.ko")


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def version_key(version):
    return [int(part) if part.isdigit() else part for part in re.split(r"[.-]", version)]


def installed_kernel(requested=None):
    """The kernel version to boot: one with both an image in /boot and headers
    in /lib/modules/<ver>/build (the installed linux-image and linux-headers
    packages), newest first; None if there is none. Never `uname -r`: the build
    machine's own kernel is not Debian's."""
    if requested:
        candidates = [requested]
    else:
        candidates = sorted((os.path.basename(p)[len("vmlinuz-"):]
                             for p in glob.glob("/boot/vmlinuz-*")),
                            key=version_key, reverse=True)
    for version in candidates:
        if (os.path.isfile(f"/boot/vmlinuz-{version}")
                and os.path.isdir(f"/lib/modules/{version}/build")):
            return version
    return None


def is_static_elf(path):
    """True for an ELF file without a PT_INTERP header (no dynamic loader)."""
    with open(path, "rb") as f:
        elf = f.read(64)
        if elf[:5] != b"\x7fELF\x02":  # 64-bit ELF
            return False
        phoff = int.from_bytes(elf[32:40], "little")
        phentsize = int.from_bytes(elf[54:56], "little")
        phnum = int.from_bytes(elf[56:58], "little")
        f.seek(phoff)
        headers = f.read(phentsize * phnum)
    return all(int.from_bytes(headers[i:i + 4], "little") != 3  # PT_INTERP
               for i in range(0, len(headers), phentsize))


def is_shell_script(path):
    """A script for the guest's busybox sh (it runs the programs given by --file)."""
    with open(path, "rb") as f:
        return f.read(10) == b"#!/bin/sh\n"


def find_busybox():
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        # A dynamic busybox would need its libraries in the initramfs.
        if os.path.isfile(path) and is_static_elf(path):
            return path
    skip("no statically linked busybox; install busybox-static")
    return None


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("program", help="statically linked test program or #!/bin/sh script, "
                                   "run as /bin/vmtest")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    p.add_argument("--kernel-version", default=os.environ.get("MMAPX_VM_KERNEL_VERSION"),
                   help="default: newest with image and headers installed")
    p.add_argument("--module", action="append", default=[], metavar="KO",
                   help="add a kernel module to /modules (repeatable)")
    p.add_argument("--module-dir", action="append", default=[], metavar="DIR",
                   help="add every *.ko in DIR to /modules (repeatable)")
    p.add_argument("--kernel-module", action="append", default=[], metavar="REL",
                   help="add a module of the guest's kernel to /modules, by its path under "
                        "/lib/modules/<ver>/ (e.g. kernel/drivers/net/ethernet/intel/e1000/e1000.ko)")
    p.add_argument("--require-module", action="append", default=[], metavar="NAME",
                   help="skip unless /modules/NAME.ko is present")
    p.add_argument("--insmod", action="append", default=[], metavar="NAME",
                   help="load /modules/NAME.ko before the test (repeatable, in order)")
    p.add_argument("--file", action="append", default=[], metavar="SRC[:DEST]",
                   help="copy a host file into the guest (default DEST /usr/local/bin/<name>, "
                        "ahead of busybox's applets in PATH)")
    p.add_argument("--backing-file", action="append", default=[], metavar="ID=SIZE",
                   help="create a zero-filled host file of SIZE bytes; @ID@ in --qemu "
                        "and --post-check arguments becomes its path")
    p.add_argument("--qemu", action="append", default=[], metavar="ARG",
                   help="extra QEMU argument, e.g. --qemu=-device --qemu=edu")
    p.add_argument("--post-check", action="append", default=[], metavar="ARG",
                   help="host command (one word per option) run after a passing guest; "
                        "its failure fails the test; @PROGRAM@ is the test program")
    p.add_argument("--append", action="append", default=[], metavar="WORD",
                   help="add a word to the guest kernel's command line, e.g. intel_iommu=on")
    p.add_argument("--expect-line", action="append", default=[], metavar="REGEX",
                   help="a line the console must carry (QEMU's output or the kernel log); "
                        "kernel log lines it matches are not findings (repeatable)")
    p.add_argument("--memory", default="512M")
    p.add_argument("--cpus", type=int, default=2,
                   help="guest CPUs (default 2: races in the kernel need a second CPU)")
    p.add_argument("--timeout", type=float, default=240, help="seconds before the guest is killed")
    p.add_argument("--save-output", metavar="FILE", help="write the program's output here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--verbose", action="store_true", help="stream the guest console")
    return p.parse_args(argv)


def substitute(words, paths):
    out = []
    for word in words:
        for ident, path in paths.items():
            word = word.replace(f"@{ident}@", path)
        out.append(word)
    return out


def create_backing_files(specs, workdir):
    paths = {}
    for spec in specs:
        ident, _, size = spec.partition("=")
        if not ident or not size:
            sys.exit(f"--backing-file {spec!r}: expected ID=SIZE")
        path = os.path.join(workdir, f"{ident}.img")
        with open(path, "wb") as f:
            f.truncate(parse_size(size))
        paths[ident] = path
    return paths


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1], 0) * units[text[-1].upper()]
    return int(text, 0)


def guest_files(args, version):
    """(host, guest) pairs for the initramfs, and the module names present."""
    files = [(args.program, "bin/vmtest")]
    modules = set()
    kos = [f"/lib/modules/{version}/{m}" for m in KERNEL_MODULES]
    for rel in args.kernel_module:
        if not os.path.isfile(f"/lib/modules/{version}/{rel}"):
            skip(f"the kernel {version} has no module {rel}")
        kos.append(f"/lib/modules/{version}/{rel}")
    kos += args.module
    for directory in args.module_dir:
        kos += sorted(glob.glob(os.path.join(directory, "*.ko")))
    for ko in kos:
        if os.path.isfile(ko):
            name = os.path.basename(ko)[:-len(".ko")]
            modules.add(name)
            files.append((ko, f"modules/{name}.ko"))
    for spec in args.file:
        src, _, dest = spec.partition(":")
        files.append((src, (dest or f"/usr/local/bin/{os.path.basename(src)}").lstrip("/")))
    return files, modules


def init_config(args):
    # /init sources this: the test's command line survives any quoting.
    command = " ".join(shlex.quote(w) for w in ["/bin/vmtest"] + args.args)
    return (f"MMAPX_INSMOD={shlex.quote(' '.join(args.insmod))}\n"
            f"run_test() {{\n\t{command}\n}}\n")


def run_qemu(command, timeout, verbose):
    """Runs QEMU, returns (exit status or None when killed, console text)."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines = []

    def pump():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").replace("\r", "")
            lines.append(line)
            if verbose:
                sys.stdout.write(line)
                sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = None
    reader.join(timeout=5)
    return status, "".join(lines)


def between(text, begin, end):
    match = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, re.S)
    return match.group(1) if match else None


def main(argv):
    args = parse_args(argv)
    if shutil.which(QEMU) is None:
        skip(f"{QEMU} not found; install qemu-system-x86")
    version = installed_kernel(args.kernel_version)
    if version is None:
        skip("no kernel with both /boot/vmlinuz-<ver> and /lib/modules/<ver>/build"
             + (f" for {args.kernel_version}" if args.kernel_version else "")
             + "; install linux-image-amd64 and linux-headers-amd64")
    busybox = find_busybox()
    if not os.path.isfile(args.program):
        sys.exit(f"test program {args.program} not found")
    if not (is_static_elf(args.program) or is_shell_script(args.program)):
        sys.exit(f"test program {args.program} is neither statically linked (link_args: '-static') "
                 "nor a #!/bin/sh script")
    if args.args and args.args[0] == "--":
        args.args = args.args[1:]

    workdir = tempfile.mkdtemp(prefix="mmapx-vm-")
    try:
        files, modules = guest_files(args, version)
        for name in args.require_module + args.insmod:
            if name not in modules:
                skip(f"kernel module {name}.ko was not built (see tests/vm/README.md)")
        backing = create_backing_files(args.backing_file, workdir)
        initrd = os.path.join(workdir, "initrd.gz")
        initramfs.build(initrd, busybox, os.path.join(HERE, "init"), init_config(args), files)

        command = [QEMU, "-accel", "tcg", "-m", args.memory, "-smp", str(args.cpus), "-nodefaults",
                   "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
                   "-kernel", f"/boot/vmlinuz-{version}", "-initrd", initrd,
                   "-append", " ".join(["console=ttyS0 panic=-1 oops=panic quiet"] + args.append),
                   "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        command += substitute(args.qemu, backing)
        started = time.monotonic()
        status, console = run_qemu(command, args.timeout, args.verbose)
        elapsed = time.monotonic() - started

        output = between(console, "MMAPX-VM-OUTPUT-BEGIN", "MMAPX-VM-OUTPUT-END")
        klog = between(console, "MMAPX-VM-KLOG-BEGIN", "MMAPX-VM-KLOG-END")
        marker = re.search(r"^MMAPX-VM-RESULT: (\d+)$", console, re.M)
        guest_status = int(marker.group(1)) if marker else None
        # A failing guest prints its whole log; only what the test caused counts.
        since_start = (klog or "")[(klog or "").find("mmapx-vm: test start"):]
        expected = [re.compile(e) for e in args.expect_line]
        findings = [line for line in since_start.splitlines()
                    if KERNEL_LOG_FINDINGS.search(line)
                    and not any(e.search(line) for e in expected)]
        missing = [e.pattern for e in expected
                   if not any(e.search(line) for line in console.splitlines())]

        if args.save_output and output is not None:
            with open(args.save_output, "w") as f:
                f.write(output)

        problems = []
        if status is None:
            problems.append(f"guest killed after the {args.timeout:g} s timeout")
        elif guest_status is None or klog is None:
            problems.append(f"no verdict from the guest (QEMU exit status {status})")
        elif status == EXIT_SKIP and guest_status == SKIP:
            print(output, end="")
            skip(f"the test skipped itself in the guest ({elapsed:.1f} s)")
        elif status != EXIT_PASS or guest_status != 0:
            problems.append(f"test failed in the guest (status {guest_status}, "
                            f"QEMU exit status {status})")
        if findings:
            problems.append("kernel log findings:\n  " + "\n  ".join(findings))
        if missing and not problems:
            problems.append("expected lines missing from the console:\n  " + "\n  ".join(missing))
        if not problems:
            for check in ([args.post_check] if args.post_check else []):
                check = substitute(check, dict(backing, PROGRAM=os.path.abspath(args.program)))
                result = subprocess.run(check)
                if result.returncode != 0:
                    problems.append(f"host check {shlex.join(check)} exited {result.returncode}")

        if problems:
            print("----- guest console -----")
            print(console, end="")
            print("----- end of guest console -----")
            print(f"FAIL ({elapsed:.1f} s, kernel {version}):", *problems, sep="\n  ")
            return 1
        print(output, end="")
        print(f"PASS ({elapsed:.1f} s, kernel {version})")
        return 0
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
