#!/usr/bin/env python3
"""docs/man/check_man.py - checks one hand-written manual page against its program.

    check_man.py PAGE PROGRAM

1. The options agree with `PROGRAM --help`: every option the help lists is
   described in the page's OPTIONS or COMMANDS section, and every option the
   page's SYNOPSIS, OPTIONS or COMMANDS shows is one the help lists. Options
   are --long names (without =VALUE) and single-letter -x flags.
2. The exit statuses agree: the numbers the help's "exit status" paragraph
   gives are the .TP tags of the page's EXIT STATUS section.
3. `groff -ww -z -man PAGE` prints nothing (no warning of any kind), and
   `man -l PAGE` renders it without a warning, when man is installed.
Each failure is one line naming the page, the program and the option or
status, so a changed --help is quick to carry into the page. Exit status: 0
when the page passes, 1 when it does not, 77 (skip) without groff.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

OPTION = re.compile(r"(?<![\w-])(--[A-Za-z][A-Za-z0-9_-]*|-[A-Za-z](?![\w-]))")


def roff_text(source):
    """The page's source with the escapes that split option names removed."""
    text = source.replace("\\-", "-").replace("\\c\n", "").replace("\\&", "")
    return re.sub(r"\\f[BIRP]", "", text)


def sections(text):
    """{SECTION NAME: its lines} of a man(7) page."""
    result, name = {}, None
    for line in text.splitlines():
        m = re.match(r'\.SH\s+"?([^"]+)"?\s*$', line)
        if m:
            name = m.group(1).strip()
            result[name] = []
        elif name is not None:
            result[name].append(line)
    return result


def options_in(lines):
    return set(OPTION.findall("\n".join(lines)))


def page_exit_statuses(lines):
    """The tags of the .TP paragraphs in EXIT STATUS that are numbers."""
    found = set()
    for before, tag in zip(lines, lines[1:]):
        m = re.match(r"(?:\.B\s+)?(\d+)\s*$", tag)
        if before.startswith(".TP") and m:
            found.add(int(m.group(1)))
    return found


def help_exit_statuses(help_text):
    """The numbers of the help's exit status paragraph ("0 success, 2 usage error")."""
    # The paragraph that starts a line with "Exit status:", not a mention inside another.
    m = re.search(r"^exit status:(.*?)(?:\n\s*\n|\Z)", help_text, re.I | re.S | re.M)
    if not m:
        return None
    return {int(n) for n in re.findall(r"(?<![\w^.])(\d+)(?=\s+[a-z(])", " ".join(m.group(1).split()))}


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    page, program = Path(sys.argv[1]), sys.argv[2]
    name = Path(program).name
    where = f"{page.name} ({name})"
    if shutil.which("groff") is None:
        print("groff is not installed (Debian: groff-base): the page was not checked")
        return 77
    problems = []

    proc = subprocess.run([program, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    help_text = proc.stdout
    if proc.returncode != 0:
        problems.append(f"`{name} --help` exited with {proc.returncode}, not 0")

    text = roff_text(page.read_text())
    parts = sections(text)
    for needed in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS"):
        if needed not in parts:
            problems.append(f"{where}: no {needed} section")
    th = re.search(r"^\.TH\s+(\S+)\s+(\S+)", text, re.M)
    if not th or th.group(1) != name.upper() or th.group(2) != "1":
        problems.append(f"{where}: .TH must name {name.upper()} in section 1")
    if not "\n".join(parts.get("NAME", [])).strip().startswith(name + " -"):
        problems.append(f"{where}: NAME must start with '{name} -'")

    from_help = options_in(help_text.splitlines())
    described = options_in(parts.get("OPTIONS", []) + parts.get("COMMANDS", []))
    shown = described | options_in(parts.get("SYNOPSIS", []))
    for option in sorted(from_help - described):
        problems.append(f"{where}: option {option} is in `{name} --help` but not described in the page's "
                        "OPTIONS or COMMANDS section")
    for option in sorted(shown - from_help):
        problems.append(f"{where}: the page shows option {option}, which `{name} --help` does not list")

    statuses = help_exit_statuses(help_text)
    in_page = page_exit_statuses(parts.get("EXIT STATUS", []))
    if statuses is None:
        problems.append(f"`{name} --help` has no 'exit status' paragraph")
    else:
        for s in sorted(statuses - in_page):
            problems.append(f"{where}: exit status {s} is in `{name} --help` but not in the page's EXIT STATUS")
        for s in sorted(in_page - statuses):
            problems.append(f"{where}: the page's EXIT STATUS has {s}, which `{name} --help` does not give")

    groff = subprocess.run(["groff", "-ww", "-z", "-man", str(page)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in groff.stdout.splitlines():
        problems.append(f"{where}: groff -ww: {line}")
    if groff.returncode != 0:
        problems.append(f"{where}: groff -ww -z -man exited with {groff.returncode}")

    if shutil.which("man") is None:
        print("man is not installed: `man -l` was not tried")
    else:
        env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80", LC_ALL="C.UTF-8")
        man = subprocess.run(["man", "--warnings", "-l", str(page)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in man.stderr.splitlines():
            problems.append(f"{where}: man -l: {line}")
        if man.returncode != 0 or "NAME" not in man.stdout or name not in man.stdout:
            problems.append(f"{where}: man -l did not render the page (exit status {man.returncode})")

    if problems:
        print(f"FAILED: {len(problems)} problem(s) in docs/man/{page.name}:")
        print("\n".join(problems))
        return 1
    print(f"{page.name}: options {' '.join(sorted(from_help))} and exit statuses "
          f"{' '.join(map(str, sorted(statuses)))} agree with `{name} --help`; groff -ww and man -l are silent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
