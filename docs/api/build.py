#!/usr/bin/env python3
"""docs/api/build.py - builds the API reference (Doxygen, docs/api/Doxyfile)
from include/ and fails on any Doxygen warning.

    build.py <source root> <output directory> [--test]

Writes <output directory>/html (start at index.html; one page per header
group, group__<name>.html) and <output directory>/warnings.log. Every warning
is printed as `include/mmapx/<file>:<line>: <text>`, sorted, so an
undocumented or wrongly documented public name (say, a \\param naming no
parameter) is quick to find and fix. A public header that docs/api/groups.dox
puts in no group fails too, before doxygen runs.
Exit status: 0 when the reference built without a warning, 1 otherwise; when
doxygen is not installed, a message and 0 (the docs-api target) or 77 (skip,
with --test: the docs suite's api-reference test).
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Doxyfile settings the check relies on, and the header groups of
# docs/api/groups.dox (each must come out as a page).
REQUIRED = {"EXTRACT_ALL": "NO", "WARN_IF_UNDOCUMENTED": "YES", "WARN_IF_DOC_ERROR": "YES",
            "WARN_AS_ERROR": "FAIL_ON_WARNINGS"}
GROUPS = ["core", "backends", "views", "regmaps", "devices", "kmod", "capabilities", "vfio", "scan"]


def headers_without_group(source):
    """Public headers (not detail/, not the UAPI) that groups.dox puts in no group."""
    groups = (source / "docs" / "api" / "groups.dox").read_text()
    grouped = set(re.findall(r"\\file\s+(\S+)[^*]*\\ingroup\s+\w+", groups))
    root = source / "include"
    public = sorted(str(h.relative_to(root)) for h in (root / "mmapx").rglob("*.hpp")
                    if h.relative_to(root / "mmapx").parts[0] not in ("detail", "uapi"))
    return [h for h in public if h not in grouped]


def warnings_of(log, source):
    """The log's warnings as sorted, unique `relative/path:line: text` lines."""
    found = set()
    current = None
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"(/[^:]+):(\d+): (.*)", line)
        if m:
            path = Path(m.group(1))
            try:
                path = path.relative_to(source)
            except ValueError:
                pass
            current = (str(path), int(m.group(2)), m.group(3))
            found.add(current)
        elif line.strip() and current is not None:
            # A continuation line (doxygen wraps some messages): keep it with its warning.
            found.discard(current)
            current = (current[0], current[1], current[2] + " " + line.strip())
            found.add(current)
        elif line.strip():
            found.add(("(doxygen)", 0, line.strip()))
    return [f"{p}:{n}: {t}" for p, n, t in sorted(found)]


def main():
    args = [a for a in sys.argv[1:] if a != "--test"]
    testing = "--test" in sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, out = Path(args[0]).resolve(), Path(args[1]).resolve()
    config = (source / "docs" / "api" / "Doxyfile").read_text()
    # The settings that make an undocumented public name fail: a Doxyfile
    # that lost one would pass silently, so it is an error of its own.
    for setting, value in REQUIRED.items():
        if not re.search(rf"^{setting}\s*=\s*{value}\s*$", config, re.M):
            print(f"FAILED: docs/api/Doxyfile must set {setting} = {value}")
            return 1
    ungrouped = headers_without_group(source)
    if ungrouped:
        print("FAILED: header(s) in no group of the API reference; give each a line "
              "`/** \\file mmapx/<header> <what it is for>. \\ingroup <group> */` in docs/api/groups.dox:")
        print("\n".join(f"include/{h}:1: in no group" for h in ungrouped))
        return 1
    doxygen = shutil.which("doxygen")
    if doxygen is None:
        print("doxygen is not installed: the API reference was not built "
              "(Debian: apt-get install doxygen, or scripts/install-deps test)")
        return 77 if testing else 0
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    log = out / "warnings.log"
    # Settings given on stdin after the file win: the output goes to the build
    # directory, never into the source tree.
    config += f'\nOUTPUT_DIRECTORY = "{out}"\nWARN_LOGFILE = "{log}"\n'
    proc = subprocess.run([doxygen, "-"], input=config, cwd=source, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    warnings = warnings_of(log, source) if log.exists() else []
    if proc.stdout.strip():
        print(proc.stdout.strip())
    if warnings:
        files = {w.split(":", 1)[0] for w in warnings}
        print(f"FAILED: {len(warnings)} Doxygen warning(s) in {len(files)} file(s); "
              "document each name below with its contract (docs/api/Doxyfile says what is checked):")
        print("\n".join(warnings))
        return 1
    if proc.returncode != 0:
        print(f"FAILED: doxygen exited with status {proc.returncode}")
        return 1
    missing = [g for g in GROUPS if not (out / "html" / f"group__{g}.html").is_file()]
    if missing:
        print("FAILED: no reference page for group(s) " + ", ".join(missing) +
              " (each is a \\defgroup in docs/api/groups.dox)")
        return 1
    print(f"API reference without warnings: {out / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
