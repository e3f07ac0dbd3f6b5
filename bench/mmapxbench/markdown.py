"""Markdown output: tables, the machine table, and sections of README.md between markers."""

import os


def table(header, rows, align=None):
    """A markdown table. `align`: one of 'l', 'r', 'c' per column (default: first left, rest right)."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(str(h) for h in header) + " |",
             "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_table(info, extra=()):
    """The machine a run measured, as a two-column table; `extra`: more (name, value) rows."""
    names = [("cpu", "CPU"), ("cores", "cores"), ("kernel", "kernel"), ("memory", "memory"),
             ("thp", "transparent huge pages"), ("compiler", "compiler"), ("files", "files in")]
    rows = [(label, info[key]) for key, label in names if key in info] + list(extra)
    return table(["", ""], rows, ["l", "l"])


def replace_section(path, begin, end, text):
    """Replaces what lies between the marker lines `begin` and `end` in `path`.
    Returns False (and changes nothing) when the markers are missing."""
    with open(path) as f:
        content = f.read()
    if begin not in content or end not in content:
        return False
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path + ".tmp", "w") as f:
        f.write(head + begin + "\n" + text.rstrip("\n") + "\n" + end + tail)
    os.replace(path + ".tmp", path)
    return True
