"""What bench/run writes from the Google Benchmark figures: rows with ratios
and targets, bench/results/summary.md, the README table, and the charts."""

import datetime
import os

from . import chart, markdown
from .stats import fmt, fmt_rate, fmt_time, noise, ratio


def overhead_rows(core, reg, flush):
    """(label, ratio, target text, met, noise, chart value = time ratio, chart label)."""
    rows = []
    for size, label in (("4096", "4 KiB file"), ("1073741824", "1 GiB file")):
        mmapx = core.time(f"map_unmap_mmapx/{size}")
        for base, target, limit in (("raw", "≤ 1.02", 1.02), ("boost", "≤ 1.00", 1.00)):
            other = core.time(f"map_unmap_{base}/{size}")
            r = ratio(mmapx, other)
            name = "raw mmap/munmap" if base == "raw" else "Boost.Interprocess"
            if other is None and base == "boost":
                continue
            rows.append((f"map+unmap, {label}: mmapx / {name} (time)", r, target,
                         None if r is None else r <= limit,
                         noise(core.cv(f"map_unmap_mmapx/{size}"), core.cv(f"map_unmap_{base}/{size}")), r,
                         f"map+unmap {label.replace(' file', '')} vs {base}"))
    for kind, label in (("sum", "sequential read"), ("random", "random read")):
        typed, raw = core.rate(f"{kind}_mapped_array"), core.rate(f"{kind}_raw_pointer")
        r = ratio(typed, raw)
        rows.append((f"{label}, 256 MiB: mapped_array / raw pointer (throughput)", r, "≥ 0.99",
                     None if r is None else r >= 0.99,
                     noise(core.cv(f"{kind}_mapped_array"), core.cv(f"{kind}_raw_pointer")), ratio(1, r),
                     label))
    for op in ("read32", "write32", "modify", "w1c", "write64"):
        r = ratio(reg.time(f"{op}_typed"), reg.time(f"{op}_volatile"))
        cvs = [c for c in (reg.cv(f"{op}_typed"), reg.cv(f"{op}_volatile")) if c is not None]
        # 1.00 is met when the ratio rounds to it, or differs from it by less
        # than the run's own noise (the code is identical: tests/codegen).
        met = None if r is None else (round(r, 2) == 1.00 or abs(r - 1) <= max(cvs, default=0))
        rows.append((f"register {op}: typed map / volatile (time)", r, "1.00 ± noise", met,
                     noise(*cvs), r, f"register {op}"))
    for level in ("async", "sync", "durable"):
        r = ratio(flush.time(f"flush_mmapx/{level}", "real_time"), flush.time(f"flush_raw/{level}", "real_time"))
        rows.append((f"flush {level}, 1 MiB: region::flush / msync by hand (wall time)", r, "-", None,
                     noise(flush.cv(f"flush_mmapx/{level}", "real_time"),
                           flush.cv(f"flush_raw/{level}", "real_time")), r, f"flush {level}"))
    return rows


STRATEGY_ORDER = ["lazy", "populate", "will_need", "populate_write", "populate_read", "lock",
                  "thp", "thp_populate", "thp_populate_write", "explicit_2m"]


def population_rows(pop):
    """{backing: [(strategy, time, rate, huge KiB, cv, error, best time)]} in STRATEGY_ORDER."""
    rows = {}
    for name in pop.names():
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "first_touch":
            rows.setdefault(parts[1], []).append((parts[2], pop.time(name), pop.rate(name),
                                                  pop.counter(name, "huge_kib"), pop.cv(name),
                                                  None, pop.best(name)))
    for name, message in pop.errors.items():
        parts = name.split("/")
        if len(parts) == 3:
            rows.setdefault(parts[1], []).append((parts[2], None, None, None, None, message, None))
    rank = {name: i for i, name in enumerate(STRATEGY_ORDER)}
    return {kind: sorted(r, key=lambda row: rank.get(row[0], len(rank))) for kind, r in rows.items()}


def device_rows(dev):
    modes = ["anonymous", "cached", "uncached", "write_combining"]
    ops = ["read", "write", "copy_in", "copy_out"]
    table = {op: {m: dev.rate(f"{op}/{m}") for m in modes} for op in ops}
    present = [m for m in modes if any(table[op][m] is not None for op in ops)]
    return ops, present, table


def yes_no(met):
    return "-" if met is None else ("yes" if met else "**no**")


def population_section(pop):
    out = []
    for kind, rows in population_rows(pop).items():
        lazy = next((r[1] for r in rows if r[0] == "lazy"), None)
        timed = [r for r in rows if r[1] is not None]
        best = min(timed, key=lambda r: r[1])[0] if timed else None
        cells = []
        for r in rows:
            if r[1] is None:
                cells.append((r[0], f"skipped: {r[5]}", "", "", "", "", ""))
                continue
            name = f"**{r[0]}** (fastest)" if r[0] == best else r[0]
            huge = "n/a" if r[3] is None else f"{r[3] / 1024:.0f} MiB"
            cells.append((name, fmt_time(r[1]), fmt_rate(r[2]), fmt(ratio(lazy, r[1])), huge, noise(r[4]),
                          fmt_time(r[6])))
        out += [f"**{kind}**\n", markdown.table(["strategy", "time (median)", "throughput", "speed-up over lazy",
                                                 "huge pages", "noise", "best repetition"], cells), ""]
    return out


def device_section(dev_host, dev_vm):
    out = []
    for label, dev, note in (
            ("host", dev_host, "On this host (real figures only where `/dev/mmapx0` exists, "
                               "i.e. with the module loaded; otherwise only the anonymous baseline runs)."),
            ("VM", dev_vm, "**Emulated**: inside Debian's kernel under QEMU TCG, which models "
                           "no caches, so the modes run alike; these figures prove only that "
                           "every mode works. Real numbers need real hardware.")):
        ops, present, table = device_rows(dev)
        out.append(f"**{label}**: {note}\n")
        if not present:
            out.append("(not run)\n")
            continue
        cells = []
        for op in ops:
            base = table[op].get("anonymous")
            cells.append([op] + [fmt_rate(table[op][m]) if m == "anonymous" or table[op][m] is None
                                 else f"{fmt_rate(table[op][m])} ({fmt(ratio(table[op][m], base))}×)"
                                 for m in present])
        out += [markdown.table(["operation"] + present, cells), ""]
        out += [f"- {name}: skipped ({message})" for name, message in dev.errors.items()]
        out.append("")
    return out


def summary(info, load_before, load_after, repetitions, min_time, core, pop, reg, flush, dev_host, dev_vm):
    out = ["# mmapx benchmarks\n",
           f"Written by `bench/run` on {datetime.date.today().isoformat()}. Raw data: the Google Benchmark "
           "JSON files next to this one.\n", "## Machine\n",
           markdown.machine_table(info, [("explicit 2 MiB pages reserved", info["huge_pages"]),
                                         ("load average (1, 5, 15 min)",
                                          f"before: {load_before}; after: {load_after}")]), "",
           f"Method: {repetitions} repetitions of each benchmark, in random interleaved order "
           "(`--benchmark_enable_random_interleaving`), each at least "
           f"{min_time} s; the figures are medians. Times are CPU time of the benchmark thread "
           "(kernel time in page faults and syscalls included), except flush, which is wall time "
           "(it waits for the disk). *Noise* is the larger coefficient of variation of the two sides.\n",
           "## What the abstraction costs\n",
           markdown.table(["comparison", "ratio", "target", "met", "noise"],
                          [(label, fmt(r, 3), target, yes_no(met), nz)
                           for label, r, target, met, nz, _, _ in overhead_rows(core, reg, flush)],
                          ["l", "r", "r", "c", "r"]), "",
           "![cost relative to hand-written code](overhead.svg)\n",
           "## First touch by population strategy\n",
           "Map 256 MiB, apply the strategy, touch every 4 KiB page once (anonymous: write; "
           "file: read, file already in the page cache), unmap. *huge pages* is how much of one "
           "such mapping the kernel really backed with huge pages. *best repetition* shows "
           "strategies whose cost depends on the state of the machine (a median far above it).\n"]
    out += population_section(pop)
    out += ["![first-touch throughput by strategy](population.svg)\n",
            "## Flush cost by level, 1 MiB of dirty pages\n"]
    cells = []
    for level in ("async", "sync", "durable"):
        m, raw = flush.time(f"flush_mmapx/{level}", "real_time"), flush.time(f"flush_raw/{level}", "real_time")
        cells.append((level, fmt_time(m), fmt_time(raw), fmt(ratio(m, raw), 3)))
    out += [markdown.table(["level", "region::flush", "msync by hand", "ratio"], cells), "",
            "![flush cost by level](flush.svg)\n",
            "## Device memory: the kernel module's cached, uncached and write-combining buffers\n"]
    out += device_section(dev_host, dev_vm)
    if device_rows(dev_vm)[1]:
        out.append("![device memory throughput, emulated](device.svg)\n")
    return "\n".join(out)


def readme_table(info, load_before, core, reg, flush, pop):
    rows = [(label, fmt(r, 3), target, yes_no(met), nz)
            for label, r, target, met, nz, _, _ in overhead_rows(core, reg, flush) if met is not None]
    for kind, prows in population_rows(pop).items():
        timed = [r for r in prows if r[1] is not None]
        lazy = next((r[1] for r in prows if r[0] == "lazy"), None)
        if timed and lazy:
            first = sorted(timed, key=lambda r: r[1])[0]
            rows.append((f"first touch, {kind}: fastest strategy (median)",
                         f"{first[0]}, {fmt(ratio(lazy, first[1]))}× lazy", "-", "-", noise(first[4])))
    return "\n".join([f"Measured by `bench/run` on {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}, "
                      f"load average {load_before} (medians of interleaved repetitions; "
                      "[full summary](bench/results/summary.md)).", "",
                      markdown.table(["comparison", "ratio", "target", "met", "noise"], rows,
                                     ["l", "r", "r", "c", "r"])])


def charts(results_dir, core, pop, reg, flush, dev_vm):
    """overhead.svg, population.svg, flush.svg, device.svg (see chart.py)."""
    rows = [(short, value) for _, _, _, _, _, value, short in overhead_rows(core, reg, flush) if value is not None]
    chart.bar_chart(os.path.join(results_dir, "overhead.svg"),
                    "mmapx time / hand-written time (1.0 = same cost; lower is better)",
                    [label for label, _ in rows], ["ratio"], [[v] for _, v in rows], reference=1.0)
    population = population_rows(pop)
    strategies = [s for s in STRATEGY_ORDER if any(r[0] == s for rows in population.values() for r in rows)]
    kinds = list(population)
    chart.bar_chart(os.path.join(results_dir, "population.svg"), "first touch of 256 MiB (GiB/s, higher is better)",
                    strategies, kinds,
                    [[next((r[2] / 2**30 for r in population[k] if r[0] == s and r[2] is not None), None)
                      for k in kinds] for s in strategies], ylabel="GiB/s")
    levels = ("async", "sync", "durable")
    chart.bar_chart(os.path.join(results_dir, "flush.svg"), "flush of 1 MiB of dirty pages (µs, wall time, log scale)",
                    list(levels), ["region::flush", "msync by hand"],
                    [[None if t is None else t * 1e6 for t in (flush.time(f"flush_mmapx/{lvl}", "real_time"),
                                                               flush.time(f"flush_raw/{lvl}", "real_time"))]
                     for lvl in levels], ylabel="µs", log=True)
    ops, present, table = device_rows(dev_vm)
    if present:
        chart.bar_chart(os.path.join(results_dir, "device.svg"),
                        "kernel module buffers, EMULATED (QEMU TCG models no caches): MiB/s", ops, present,
                        [[None if table[op][m] is None else table[op][m] / 2**20 for m in present] for op in ops],
                        ylabel="MiB/s")
