"""Building what a benchmark script runs: Meson (release) and Ninja, nothing else."""

import os
import subprocess


def ensure_built(root, build_dir, targets, options=(), log=print):
    """Configures `build_dir` as a release build if it is not configured yet,
    then builds only `targets` (Ninja target names such as 'bench/scan_file')."""
    if not os.path.isfile(os.path.join(build_dir, "build.ninja")):
        command = ["meson", "setup", build_dir, "-Dbuildtype=release", *options]
        log("$", " ".join(command))
        subprocess.run(command, cwd=root, check=True)
    command = ["ninja", "-C", build_dir, *targets]
    log("$", " ".join(command))
    subprocess.run(command, cwd=root, check=True)
