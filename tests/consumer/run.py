#!/usr/bin/env python3
"""tests/consumer/run.py - builds and runs the consumer projects the way users
would: mmapx as a Meson subproject, and an installed mmapx (in a temporary
prefix) found through pkg-config by Meson and through find_package by CMake,
and the wrap file that docs/using.md shows, copied from the page as written.

    run.py <mmapx source root> <work directory> <c++ compiler command...>

Each consumer is copied into the work directory (wiped first) together with
consumer.cpp, so the source tree is never written to. Exits 0 when every
consumer built and passed, 1 on any failure, 77 (skip) when the Meson
consumers passed but cmake is not installed.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(cmd, cwd=None, env=None, expect_failure=False):
    """Runs cmd; returns its output. Raises on an unexpected result."""
    print("$", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = proc.returncode != 0
    if failed != expect_failure:
        print(proc.stdout)
        what = "succeeded, but should have failed" if expect_failure else f"failed ({proc.returncode})"
        raise RuntimeError(f"{cmd[0]} {what}")
    return proc.stdout


def project(work, name):
    """A fresh copy of consumer project `name` with consumer.cpp beside its build file."""
    dest = work / name
    shutil.copytree(HERE / name, dest)
    shutil.copy(HERE / "consumer.cpp", dest / "consumer.cpp")
    return dest


def clean_env(cxx):
    """The environment without anything that could find mmapx by accident."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PKG_CONFIG_PATH", "CMAKE_PREFIX_PATH", "CPATH", "CPLUS_INCLUDE_PATH")}
    env["CXX"] = cxx
    return env


def install(source, work, env):
    """meson install of the headers, mmapx.pc and the CMake package into work/prefix."""
    prefix = work / "prefix"
    build = work / "mmapx-build"
    run(["meson", "setup", build, source, f"--prefix={prefix}",
         "-Dmmapx_bench=disabled", "-Dmmapx_vm=disabled"], env=env)
    # --tags devel: only what a user of the headers needs, so nothing is compiled.
    run(["meson", "install", "-C", build, "--no-rebuild", "--tags", "devel"], env=env)
    for needed in ("include/mmapx/mmapx.hpp", "include/mmapx/reg.hpp", "share/pkgconfig/mmapx.pc",
                   "share/cmake/mmapx/mmapx-config.cmake",
                   "share/cmake/mmapx/mmapx-config-version.cmake"):
        if not (prefix / needed).is_file():
            raise RuntimeError(f"meson install did not install {needed}")
    return prefix


def meson_consumer(src, env, setup_args=()):
    build = src / "build"
    run(["meson", "setup", build, src, *setup_args], env=env)
    print(run(["meson", "test", "-C", build, "--print-errorlogs"], env=env))


def subproject_consumer(source, work, env):
    src = project(work, "subproject")
    (src / "subprojects").mkdir()
    (src / "subprojects" / "mmapx").symlink_to(source, target_is_directory=True)
    # Forced, so that an mmapx installed on this machine cannot be picked instead.
    meson_consumer(src, env, ["--force-fallback-for=mmapx"])
    # mmapx's own tests must not be part of a parent project's build.
    targets = run(["meson", "introspect", "--targets", src / "build"], env=env)
    if "unit_core" in targets or "mmapx-demo" in targets:
        raise RuntimeError("the subproject build contains mmapx's own tests or examples")


def documented_wrap(source):
    """The ```ini block of docs/using.md that holds the [wrap-git] section, verbatim."""
    text = (source / "docs" / "using.md").read_text()
    for block in re.findall(r"^```ini\n(.*?)^```", text, re.M | re.S):
        if "[wrap-git]" in block:
            return block
    raise RuntimeError("docs/using.md has no ```ini block with a [wrap-git] section")


def git_copy(source, dest, env):
    """A one-commit git repository of the source tree as it is now (committed or
    not, without build directories): what a user's checkout of mmapx holds."""
    if (source / ".git").exists():
        listed = run(["git", "-C", source, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], env=env)
        names = [n for n in listed.split("\0") if n and (source / n).is_file()]
    else:
        names = [str(f.relative_to(source)) for f in source.rglob("*")
                 if f.is_file() and not f.relative_to(source).parts[0].startswith("build")]
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, dest / name)
    git = ["git", "-C", dest, "-c", "user.name=consumer test", "-c", "user.email=test@example.invalid"]
    run(["git", "init", "-q", dest], env=env)
    run(git + ["add", "-A"], env=env)
    run(git + ["commit", "-q", "-m", "mmapx as a user checks it out"], env=env)


def wrap_consumer(source, work, env):
    """docs/using.md's subprojects/mmapx.wrap, as written, in a project that
    sits beside an mmapx checkout (src/app and src/mmapx)."""
    src = work / "wrap"
    src.mkdir()
    git_copy(source, src / "mmapx", env)
    app = src / "app"
    shutil.copytree(HERE / "subproject", app)
    shutil.copy(HERE / "consumer.cpp", app / "consumer.cpp")
    (app / "subprojects").mkdir()
    (app / "subprojects" / "mmapx.wrap").write_text(documented_wrap(source))
    meson_consumer(app, env, ["--force-fallback-for=mmapx"])
    if not (app / "subprojects" / "mmapx" / "include" / "mmapx" / "mmapx.hpp").is_file():
        raise RuntimeError("the wrap did not put mmapx into subprojects/mmapx")


def pkgconfig_consumer(work, prefix, env):
    env = dict(env, PKG_CONFIG_PATH=str(prefix / "share" / "pkgconfig"))
    run(["pkg-config", "--exists", "mmapx >= 0.1"], env=env)
    run(["pkg-config", "--exists", "mmapx >= 99"], env=env, expect_failure=True)
    meson_consumer(project(work, "pkgconfig"), env)


def cmake_consumer(work, prefix, env):
    src = project(work, "cmake")
    build = src / "build"
    run(["cmake", "-S", src, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}"], env=env)
    run(["cmake", "--build", build], env=env)
    print(run(["ctest", "--test-dir", build, "--output-on-failure"], env=env))
    # The version file: a range that includes us works, newer or next-minor
    # requests are refused (0.x: minor versions may break).
    for want, accepted in (("0.1...<1.0", True), ("0.1.0", True), ("0", True),
                           ("0.2", False), ("1.0", False), ("99", False)):
        run(["cmake", build, f"-DMMAPX_WANT={want}"], env=env, expect_failure=not accepted)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(sys.argv[1]).resolve()
    work = Path(sys.argv[2]).resolve()
    env = clean_env(" ".join(sys.argv[3:]))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        subproject_consumer(source, work, env)
        if shutil.which("git") is not None:
            wrap_consumer(source, work, env)
        else:
            print("git not installed: the wrap-file consumer was skipped")
        prefix = install(source, work, env)
        pkgconfig_consumer(work, prefix, env)
        if shutil.which("cmake") is None:
            print("cmake not installed: the CMake consumer was skipped")
            return 77
        cmake_consumer(work, prefix, env)
    except RuntimeError as e:
        print(f"FAILED: {e}")
        return 1
    print("all consumers built and passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
