"""What the figures were measured on: CPU, cores, kernel, memory, file system, load."""

import os
import platform
import re
import subprocess


def read(path, default=""):
    """A whole text file, stripped, or `default` when it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def load_average():
    """'1-min 5-min 15-min' load averages."""
    return " ".join(read("/proc/loadavg").split()[:3])


def file_system(path):
    """'ext4 on /dev/vda' for the file system holding `path` (from /proc/mounts)."""
    path = os.path.realpath(path)
    best = ("", "?", "?")
    for line in read("/proc/mounts").splitlines():
        device, mount_point, fs_type = line.split()[:3]
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[0]):
            best = (mount_point, fs_type, device)
    return f"{best[1]} on {best[2]}"


def describe(files_dir=None):
    """The machine as a dict of short strings (keys: cpu, cores, kernel, memory, thp, compiler, files)."""
    cpuinfo = read("/proc/cpuinfo")
    cpu = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", cpuinfo, re.M)
    virtual = flags is not None and "hypervisor" in flags.group(1).split()
    thp = re.search(r"\[(\w+)\]", read("/sys/kernel/mm/transparent_hugepage/enabled"))
    defrag = re.search(r"\[([\w+]+)\]", read("/sys/kernel/mm/transparent_hugepage/defrag"))
    try:
        compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        compiler = []
    meminfo = read("/proc/meminfo").splitlines()
    info = {
        "cpu": (cpu.group(1) if cpu else platform.processor()) + (" (virtual machine)" if virtual else ""),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "memory": meminfo[0].split(":")[1].strip() if meminfo else "?",
        "thp": f"{thp.group(1) if thp else '?'} (defrag: {defrag.group(1) if defrag else '?'})",
        "compiler": compiler[0] if compiler else "?",
    }
    if files_dir is not None:
        info["files"] = f"{files_dir} ({file_system(files_dir)})"
    return info
