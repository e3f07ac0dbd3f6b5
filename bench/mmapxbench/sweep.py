"""The harness of the whole-process benchmarks (bench/mmcp_bench, bench/scan_bench):
command-line options, one test file per size, interleaved runs with the page
cache warm or dropped, medians and ratios to a baseline as markdown, a chart."""

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from . import build, chart, machine, markdown, processes, stats

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_SIZES = "4K,1M,64M,1G,4G"
SMALL = 1 << 20  # sizes up to this get five times the runs: a run takes milliseconds


def arguments(description, default_output):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build", default=str(ROOT / "build-bench"),
                   help="Meson build directory (configured as a release build if new; default build-bench)")
    p.add_argument("--no-build", action="store_true", help="use what is already built in --build")
    p.add_argument("--dir", default=os.environ.get("MMAPX_BENCH_DIR", "/var/tmp"),
                   help="where the test files go: the file system measured (default $MMAPX_BENCH_DIR or /var/tmp)")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"file sizes, comma-separated (default {DEFAULT_SIZES})")
    p.add_argument("--runs", type=int, default=5, help="timed runs per command and size, at least 5 (default 5)")
    p.add_argument("--cold", action="store_true",
                   help="drop the whole page cache before every run (root only; slows the whole machine)")
    p.add_argument("--output", default=None, help=f"markdown file (default bench/results/{default_output}-warm.md "
                                                  "or -cold.md; the chart goes next to it as .svg)")
    args = p.parse_args()
    if args.runs < 5:
        p.error("--runs must be at least 5")
    if args.cold and not processes.can_drop_caches():
        p.error("--cold needs root (it writes /proc/sys/vm/drop_caches)")
    args.size_list = [stats.parse_size(s) for s in args.sizes.split(",") if s.strip()]
    temperature = "cold" if args.cold else "warm"
    args.output = Path(args.output or ROOT / "bench" / "results" / f"{default_output}-{temperature}.md")
    return args


def prepare(args, script, targets):
    if not args.no_build:
        build.ensure_built(ROOT, args.build, targets, log=lambda *w: processes.log(script, *w))
    return Path(args.build)


def measure(args, script, commands_for, space_needed, check=None, cleanup=None):
    """For each size: makes a random source file, runs commands_for(size, src)
    (a list of (label, argv)) once each as a warm-up (check(label, output, src)
    may reject a wrong result), then `runs` interleaved rounds. Returns
    ({size: {label: [(wall, cpu)]}}, skipped sizes with the reason)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{script}-", dir=args.dir))
    results, skipped = {}, []
    try:
        for size in args.size_list:
            if processes.free_space(workdir) < space_needed(size) + (1 << 30):
                skipped.append((size, f"not enough free space in {args.dir}"))
                processes.log(script, f"{stats.fmt_size(size)}: skipped, not enough free space")
                continue
            src = workdir / "source.bin"
            processes.make_random_file(src, size)
            commands = commands_for(size, src, workdir)
            runs = args.runs * 5 if size <= SMALL else args.runs

            def before():
                if cleanup:
                    cleanup(workdir)
                if args.cold:
                    processes.drop_caches()

            for label, argv in commands:  # warm-up, and proof that each one works
                before()
                _, _, output = processes.run_once(argv, processes.subprocess.PIPE)
                if check:
                    check(label, output, src, workdir)
            processes.log(script, f"{stats.fmt_size(size)}: {len(commands)} commands x {runs} runs, "
                                  f"{'cold' if args.cold else 'warm'}, load {machine.load_average()}")
            results[size] = processes.interleaved(commands, runs, before_each=before)
            src.unlink()
            if cleanup:
                cleanup(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results, skipped


def medians(times):
    """{label: (median wall, median cpu, cv of wall)}."""
    return {label: (stats.median(w for w, _ in t), stats.median(c for _, c in t), stats.cv([w for w, _ in t]))
            for label, t in times.items()}


def report(args, script, title, method, results, skipped, baseline, load_before, load_after, targets_text):
    """Markdown: the machine, per size a table of medians and ratios to
    `baseline`, the targets; and an SVG chart of the ratios. Returns the text."""
    temperature = "cold (page cache dropped before every run)" if args.cold else "warm (files in the page cache)"
    info = machine.describe(args.dir)
    lines = [f"# {title}, {'cold' if args.cold else 'warm'}", "",
             f"Written by `bench/{script}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
             f"Page cache: {temperature}.", "",
             "Command: `bench/" + script + " " + " ".join(
                 a for a in (f"--sizes {args.sizes}", f"--runs {args.runs}", f"--dir {args.dir}",
                             "--cold" if args.cold else "") if a) + "`", "",
             markdown.machine_table(info, [("load average", processes.load_note(load_before, load_after))]), "",
             method, ""]
    groups, series, values = [], [], []
    for size, times in results.items():
        m = medians(times)
        base_wall, base_cpu = m[baseline][0], m[baseline][1]
        rows = [(label, stats.fmt_time(wall), stats.fmt(stats.ratio(wall, base_wall)),
                 stats.fmt_time(cpu), stats.fmt(stats.ratio(cpu, base_cpu)), stats.noise(c))
                for label, (wall, cpu, c) in m.items()]
        runs = len(next(iter(times.values())))
        lines += [f"## {stats.fmt_size(size)} ({runs} runs each)", "",
                  markdown.table(["command", "wall (median)", f"wall / {baseline}", "CPU (median)",
                                  f"CPU / {baseline}", "noise (wall)"], rows), ""]
        groups.append(stats.fmt_size(size))
        if not series:
            series = list(m)
        values.append([stats.ratio(m[label][0], base_wall) if label in m else None for label in series])
    for size, reason in skipped:
        lines += [f"## {stats.fmt_size(size)}", "", f"Skipped: {reason}.", ""]
    lines += ["## Targets", "", targets_text(results), ""]
    svg = args.output.with_suffix(".svg")
    if chart.bar_chart(svg, f"{title}, {'cold' if args.cold else 'warm'}: wall time / {baseline} "
                            "(median; lower is better)", groups, series, values,
                       ylabel=f"time / {baseline}", reference=1.0):
        lines += [f"![{title}: time relative to {baseline}]({svg.name})", ""]
    text = "\n".join(lines)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return text
