#!/usr/bin/env python3
"""Zero-overhead check for mmapx::reg.

Compiles pairs.cpp (functions lib_<name> and hand_<name>) to assembly with
each compiler, for x86-64, aarch64 and riscv64, at -O2 and -Os; normalises
each function's instruction listing (directives, comments and label names
removed) and requires the two functions of every pair to be identical.
Prints a table of pairs x compilers.

Exit status: 0 all identical; 1 any difference or compile error; 77 (meson's
"skipped") when every present toolchain agreed but some toolchain is absent.
"""
import argparse
import concurrent.futures
import re
import shutil
import subprocess
import sys

# (column title, command prefix, comment marker of the target's assembler)
TOOLCHAINS = [
    ("g++ x86-64", ["g++"], "#"),
    ("clang x86-64", ["clang++"], "#"),
    ("g++ aarch64", ["aarch64-linux-gnu-g++"], "//"),
    ("clang aarch64", ["clang++", "--target=aarch64-linux-gnu"], "//"),
    ("g++ riscv64", ["riscv64-linux-gnu-g++"], "#"),
    ("clang riscv64", ["clang++", "--target=riscv64-linux-gnu"], "#"),
]
LEVELS = ["-O2", "-Os"]
LOCAL_LABEL = re.compile(r"\.L[A-Za-z0-9_$.]+")


def compile_to_asm(prefix, level, source, includes):
    cmd = prefix + ["-std=c++20", level, "-S", "-o", "-", "-fno-asynchronous-unwind-tables"]
    cmd += ["-I" + d for d in includes] + [source]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return None, " ".join(cmd) + "\n" + done.stderr
    return done.stdout, None


def toolchain_missing(prefix):
    """Why this toolchain cannot be used here, or None if it can."""
    if shutil.which(prefix[0]) is None:
        return prefix[0] + " not installed"
    probe = subprocess.run(prefix + ["-std=c++20", "-x", "c++", "-fsyntax-only", "-"],
                           input="#include <cstdint>\n#include <chrono>\n", capture_output=True, text=True)
    if probe.returncode != 0:
        return " ".join(prefix) + " has no C++ headers for its target (install its g++ cross package)"
    return None


def functions(asm, comment):
    """{name: [normalised instruction lines]} for every lib_/hand_ function."""
    bodies, current, name = {}, None, None
    for raw in asm.splitlines():
        line = raw.split(comment, 1)[0].strip() if comment in raw else raw.strip()
        label = re.match(r"^([A-Za-z_][\w.$]*):$", line)
        if label and re.match(r"^(lib|hand)_", label.group(1)):
            name, current = label.group(1), []
            continue
        if name is None:
            continue
        if line.startswith(".size") or line.startswith(".cfi_endproc") or line.startswith(".Lfunc_end"):
            bodies[name], name = current, None
            continue
        if not line or (line.startswith(".") and not LOCAL_LABEL.match(line)):
            continue  # directives
        if re.match(r"^\.?L[\w$.]*:$", line) and not line.startswith(".L"):
            continue
        current.append(re.sub(r"\s+", " ", line))
    return {n: rename_labels(b) for n, b in bodies.items()}


def rename_labels(lines):
    """Local labels renamed in order of appearance; labels nothing refers to dropped."""
    names = {}

    def rename(match):
        return names.setdefault(match.group(0), "L%d" % len(names))

    out = [LOCAL_LABEL.sub(rename, line) for line in lines]
    referenced = {n for line in out if not line.endswith(":") for n in re.findall(r"\bL\d+\b", line)}
    return [line for line in out if not (line.endswith(":") and line[:-1] not in referenced)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("-I", dest="includes", action="append", default=[])
    parser.add_argument("-j", dest="jobs", type=int, default=2)
    parser.add_argument("--only", help="check only the toolchains whose title contains this (for development)")
    args = parser.parse_args()

    present, missing = [], []
    for title, prefix, comment in TOOLCHAINS:
        if args.only and args.only not in title:
            continue
        why = toolchain_missing(prefix)
        if why:
            missing.append("%s: %s" % (title, why))
        else:
            present.append((title, prefix, comment))

    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for title, prefix, comment in present:
            for level in LEVELS:
                jobs[(title, level)] = (comment, pool.submit(compile_to_asm, prefix, level, args.source, args.includes))

    failed = False
    results = {}  # (pair, title) -> list of "ok"/"DIFF" per level
    details = []
    pairs = set()
    for (title, level), (comment, future) in jobs.items():
        asm, error = future.result()
        if error:
            print("compile error:\n" + error, file=sys.stderr)
            failed = True
            continue
        bodies = functions(asm, comment)
        names = sorted(n[4:] for n in bodies if n.startswith("lib_"))
        if not names:
            print("%s %s: no lib_ functions found" % (title, level), file=sys.stderr)
            failed = True
        for pair in names:
            pairs.add(pair)
            lib, hand = bodies.get("lib_" + pair), bodies.get("hand_" + pair)
            same = hand is not None and lib == hand and len(lib) > 0
            results.setdefault((pair, title), {})[level] = same
            if not same:
                failed = True
                details.append((pair, title, level, lib, hand or ["(no hand_%s)" % pair]))

    titles = [t for t, _, _ in present]
    width = max(len(p) for p in pairs) if pairs else 10
    print("%-*s  %s" % (width, "pair (" + "/".join(l[1:] for l in LEVELS) + ")",
                        "  ".join("%-13s" % t for t in titles)))
    for pair in sorted(pairs):
        cells = []
        for t in titles:
            r = results.get((pair, t), {})
            cells.append("%-13s" % "/".join(("same" if r.get(l) else "DIFF") if l in r else "-" for l in LEVELS))
        print("%-*s  %s" % (width, pair, "  ".join(cells)))
    print("%d pairs x %d compilers x %d levels" % (len(pairs), len(titles), len(LEVELS)))

    for pair, title, level, lib, hand in details:
        print("\nDIFFERENT: %s with %s %s\n  library:     %s\n  hand-written: %s"
              % (pair, title, level, "\n               ".join(lib), "\n               ".join(hand)))
    if failed:
        return 1
    if missing:
        print("SKIP: toolchains absent: " + "; ".join(missing))
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
