"""Running the Google Benchmark programs (on the host and in the QEMU guest)
and reading their JSON: medians, coefficients of variation, each repetition."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from .machine import read


def run_host(build_dir, results_dir, program, repetitions, min_time, log):
    """Runs build_dir/bench/`program` with interleaved repetitions; returns its JSON."""
    out = os.path.join(results_dir, f"{program}.json")
    command = [os.path.join(build_dir, "bench", program),
               f"--benchmark_repetitions={repetitions}",
               "--benchmark_enable_random_interleaving=true",
               f"--benchmark_min_time={min_time}",
               f"--benchmark_out={out}", "--benchmark_out_format=json"]
    log("$", " ".join(command))
    subprocess.run(command, check=True)
    with open(out) as f:
        return json.load(f)


def shared_libraries(program):
    """(real file, path the loader looks for) for each library `program` needs."""
    text = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    return [(os.path.realpath(m.group(1)), m.group(1)) for m in re.finditer(r"=>\s*(/\S+)", text)]


def run_vm(root, build_dir, results_dir, program, repetitions, min_time, log):
    """`program` in the guest, module loaded. Debian ships Google Benchmark
    only as a shared library, and the guest runs one static program: that
    program is the dynamic loader itself (an ELF without an interpreter),
    which loads the benchmark and its libraries, copied in. Returns its JSON,
    or None when the VM did not run."""
    path = os.path.join(build_dir, "bench", program)
    loader = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    libs = shared_libraries(path)
    libdirs = sorted({os.path.dirname(dest) for _, dest in libs})
    files = [f"--file={src}:{dest}" for src, dest in libs] + [f"--file={path}:/bin/{program}"]
    output = os.path.join(tempfile.mkdtemp(prefix="mmapx-bench-"), "vm.txt")
    command = ([sys.executable, os.path.join(root, "tests", "vm", "run.py"),
                "--module-dir=" + os.path.join(build_dir, "tests", "vm", "kmod", "modules"),
                "--insmod=mmapx_kmod", "--timeout=900", f"--save-output={output}"] + files +
               [loader, "--library-path", ":".join(libdirs), f"/bin/{program}",
                f"--benchmark_repetitions={repetitions}",
                "--benchmark_enable_random_interleaving=true",
                f"--benchmark_min_time={min_time}", "--benchmark_format=json"])
    log("$", " ".join(command))
    status = subprocess.run(command, capture_output=True, text=True)
    if status.returncode != 0 or not os.path.isfile(output):
        log(f"VM benchmark did not run (exit {status.returncode}):")
        print(status.stdout[-3000:], status.stderr[-2000:])
        return None
    text = read(output)
    shutil.rmtree(os.path.dirname(output), ignore_errors=True)
    data, _ = json.JSONDecoder().raw_decode(text[text.find("{"):])
    data["context"]["mmapx_note"] = "EMULATED: QEMU TCG, no cache model"
    with open(os.path.join(results_dir, f"{program}.vm.json"), "w") as f:
        json.dump(data, f, indent=2)
    return data


class huge_page_pool:
    """Reserves explicit 2 MiB pages for the run (as root) and gives them back."""

    path = "/proc/sys/vm/nr_hugepages"

    def __init__(self, wanted, log):
        self.wanted = wanted
        self.log = log
        self.old = None
        self.have = 0

    def __enter__(self):
        try:
            self.old = int(read(self.path, "0"))
            self.have = self.old
            if self.old < self.wanted and os.geteuid() == 0:
                with open(self.path, "w") as f:
                    f.write(str(self.wanted))
                self.have = int(read(self.path, "0"))
                self.log(f"explicit huge pages: {self.old} -> {self.have} (restored afterwards)")
        except OSError as e:
            self.log(f"explicit huge pages not reserved: {e}")
        return self

    def __exit__(self, *exc):
        if self.old is not None and self.have != self.old:
            with open(self.path, "w") as f:
                f.write(str(self.old))
            self.log(f"explicit huge pages restored to {self.old}")


SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


class figures:
    """Medians (and coefficient of variation) of one program's repetitions."""

    def __init__(self, data):
        self.rows = {}
        self.runs = {}  # each repetition
        self.errors = {}
        for b in (data or {}).get("benchmarks", []):
            # UseRealTime() benchmarks carry a "/real_time" suffix in their names.
            name = re.sub(r"/real_time$", "", b.get("run_name", b["name"]))
            if b.get("error_occurred"):
                self.errors[name] = b.get("error_message", "error")
            elif b.get("aggregate_name") in ("median", "cv"):
                self.rows.setdefault(name, {})[b["aggregate_name"]] = b
            elif b.get("run_type") == "iteration":
                self.rows.setdefault(name, {}).setdefault("single", b)
                self.runs.setdefault(name, []).append(b)

    def _row(self, name):
        row = self.rows.get(name)
        if not row:
            return None, None
        return row.get("median", row.get("single")), row.get("cv")

    def time(self, name, clock="cpu_time"):
        """Median time per iteration, in seconds."""
        b, _ = self._row(name)
        return None if b is None else b[clock] * SCALE[b.get("time_unit", "ns")]

    def rate(self, name):
        """Median bytes per second."""
        b, _ = self._row(name)
        return None if b is None else b.get("bytes_per_second")

    def best(self, name, clock="cpu_time"):
        """The fastest repetition's time per iteration, in seconds."""
        runs = self.runs.get(name)
        if not runs:
            return None
        return min(b[clock] for b in runs) * SCALE[runs[0].get("time_unit", "ns")]

    def counter(self, name, key):
        b, _ = self._row(name)
        return None if b is None else b.get(key)

    def cv(self, name, clock="cpu_time"):
        _, c = self._row(name)
        return None if c is None else c[clock]

    def names(self):
        return list(self.rows)
