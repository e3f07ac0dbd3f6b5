#!/usr/bin/env python3
"""docs/bad-input.md is a test: every row names the tests that assert it.

Each table row's last column lists its tests, separated by ';', each written
    `tests/unit/errors_test.cpp` "Catch2 test case name"
    `tests/fuzz/map_fuzz.cpp`                  (a file that is a check itself)
(the format is stated at the top of bad-input.md). This script fails when
  - a row names no test, or a file that does not exist;
  - a file holding Catch2 TEST_CASEs is named without a test case name, or
    with a name that is not a TEST_CASE in that file;
  - a quoted name given for another kind of file does not occur in it;
  - a code in the row's error column (errc::X, or an errno name such as
    ENOENT) occurs in none of the named tests: in a Catch2 test case's body,
    or anywhere in a named file of another kind. A code is found as itself,
    as std::errc::<its name>, or (for errno names) as the bare E-constant.

usage: check_bad_input.py bad-input.md REPO_ROOT
"""
import re
import sys
from pathlib import Path

ERRNO_NAMES = {
    "ENOENT": "no_such_file_or_directory", "EISDIR": "is_a_directory", "EACCES": "permission_denied",
    "EINVAL": "invalid_argument", "EEXIST": "file_exists", "ENOSPC": "no_space_on_device",
    "EFBIG": "file_too_large", "EFAULT": "bad_address", "ENOTSUP": "not_supported",
    "EOPNOTSUPP": "operation_not_supported", "EPERM": "operation_not_permitted",
    "EBUSY": "device_or_resource_busy", "ENAMETOOLONG": "filename_too_long", "ENOMEM": "not_enough_memory",
    "EAGAIN": "resource_unavailable_try_again", "ENXIO": "no_such_device_or_address", "ENODEV": "no_such_device",
    "ENOSYS": "function_not_supported", "EWOULDBLOCK": "operation_would_block",
    "ENOTTY": "inappropriate_io_control_operation", "EIO": "io_error", "EOVERFLOW": "value_too_large",
    "EBADF": "bad_file_descriptor", "ENOTDIR": "not_a_directory", "ELOOP": "too_many_symbolic_link_levels",
    "ETXTBSY": "text_file_busy", "EROFS": "read_only_file_system", "ETIMEDOUT": "timed_out",
}
# Names the C library gives the same number (a test may use either).
ERRNO_ALIASES = {"ENOTSUP": {"EOPNOTSUPP", "operation_not_supported"},
                 "EOPNOTSUPP": {"ENOTSUP", "not_supported"},
                 "EWOULDBLOCK": {"EAGAIN", "resource_unavailable_try_again"},
                 "EAGAIN": {"EWOULDBLOCK", "operation_would_block"}}

REF = re.compile(r'`([^`]+)`\s*(?:"([^"]+)")?')
TEST_CASE = re.compile(r'^\s*TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"', re.M)


def catch2_cases(text):
    """{name: body} of every TEST_CASE in a source file."""
    found = list(TEST_CASE.finditer(text))
    cases = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        cases[m.group(1).replace('\\"', '"')] = text[m.start():end]
    return cases


def codes_in(error_column):
    codes = set(re.findall(r"errc::([a-z_]+)", error_column))
    codes |= {"E:" + e for e in re.findall(r"\b(E[A-Z]{2,})\b", error_column) if e in ERRNO_NAMES}
    return codes


def spellings(code):
    if code.startswith("E:"):
        name = code[2:]
        words = {name, "std::errc::" + ERRNO_NAMES[name]}
        for alias in ERRNO_ALIASES.get(name, ()):
            words.add(alias if alias.startswith("E") else "std::errc::" + alias)
        return words
    return {"errc::" + code}


def check(doc, root):
    problems = []
    rows = 0
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) < 3 or set(line) <= set("|-: ") or cells[-1] == "test":
            continue
        rows += 1
        where = f"{doc.name}:{number}"
        refs = list(REF.finditer(cells[-1]))
        if not refs or REF.sub("", cells[-1]).strip("; ") != "":
            problems.append(f"{where}: last column is not `file` \"test case\"; ...: {cells[-1]!r}")
            continue
        texts = []
        for ref in refs:
            path, name = root / ref.group(1), ref.group(2)
            if not path.is_file():
                problems.append(f"{where}: no file {ref.group(1)}")
                continue
            text = path.read_text(errors="replace")
            cases = catch2_cases(text)
            if cases:
                if name is None:
                    problems.append(f"{where}: {ref.group(1)} holds Catch2 tests: name the test case")
                elif name not in cases:
                    problems.append(f"{where}: no TEST_CASE \"{name}\" in {ref.group(1)}")
                else:
                    texts.append(cases[name])
            elif name is not None and name not in text:
                problems.append(f"{where}: \"{name}\" does not occur in {ref.group(1)}")
            else:
                texts.append(text)
        for code in sorted(codes_in(cells[1])):
            if texts and not any(word in t for t in texts for word in spellings(code)):
                shown = code[2:] if code.startswith("E:") else "errc::" + code
                problems.append(f"{where}: {shown} is asserted by none of the named tests")
    return rows, problems


def main():
    doc, root = Path(sys.argv[1]), Path(sys.argv[2])
    rows, problems = check(doc, root)
    for p in problems:
        print(p)
    print(f"{rows} rows, {len(problems)} problems")
    return 1 if problems or rows == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
