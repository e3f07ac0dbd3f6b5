#!/usr/bin/env python3
"""docs/extract_examples.py - turns a guide page's code into a program.

    extract_examples.py <page.md> <out.cpp>

The blocks of a page fenced as ```cpp compile, in order, form one C++
program: the build compiles it (with the project's warnings, as errors) and
the 'docs' test suite runs it, so an example that no longer compiles or no
longer does what the page says fails CI. Blocks fenced as plain ```cpp are
illustrations and are left alone. #line directives point compiler errors at
the page itself.
"""
import sys
from pathlib import Path


def extract(page: Path) -> str:
    out, block, start = [], None, 0
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        fence = line.strip()
        if block is None and fence.startswith("```") and fence[3:].split() == ["cpp", "compile"]:
            block, start = [], number + 1
        elif block is not None and fence == "```":
            out.append(f'#line {start} "docs/{page.name}"\n' + "".join(l + "\n" for l in block))
            block = None
        elif block is not None:
            block.append(line)
    if block is not None:
        sys.exit(f"{page}:{start - 1}: unterminated ```cpp compile block")
    if not out:
        sys.exit(f"{page}: no ```cpp compile blocks: every guide page shows code that CI builds")
    return f"// Generated from docs/{page.name} by docs/extract_examples.py: edit the page.\n" + "".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    Path(sys.argv[2]).write_text(extract(Path(sys.argv[1])))
