"""A Colab-like Python environment for running the chapters as students in Colab do.

Google publishes what its Colab runtime preinstalls (``tests/colab/pip-freeze.txt`` and
``os-info.txt``, kept here; ``tests/colab/README.md`` says where they come from and how to
refresh them). This module builds, once, a *pristine* virtual environment that holds only
packages from that list, at Colab's versions: the ones the chapters use (TensorFlow, Keras,
NumPy, pandas, ipywidgets, ...) and everything they and the course package depend on that
Colab has. It uses Colab's Python minor version when this machine has it.

Each chapter then runs in a fresh copy of it (hard links, so a copy takes about a second
and a chapter that installs or upgrades something cannot change the pristine one), with a
kernel whose ``%pip`` installs only from a local wheelhouse, as fast and reproducible as
an offline machine allows.

    python tests/colab_env.py build      # create or update .venv-colab (make colab-env)
    python tests/colab_env.py describe   # which Python and versions it has
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTS = ROOT / "tests" / "colab"
FREEZE = LISTS / "pip-freeze.txt"
OS_INFO = LISTS / "os-info.txt"
HOME = ROOT / ".venv-colab"

#: What Colab preinstalls that the chapters import (their dependencies come along, at
#: Colab's versions too). ``pip``, ``setuptools`` and ``wheel`` are Colab's as well.
PREINSTALLED = ["tensorflow", "keras", "numpy", "pandas", "matplotlib", "ipywidgets", "ipykernel",
                "ipython", "scikit-learn", "scipy", "statsmodels", "networkx", "scikit-image",
                "mlxtend", "pillow", "pip", "setuptools", "wheel"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_versions(path: Path = FREEZE) -> dict[str, str]:
    """Package -> version for every ``name==version`` line of Google's list (URL builds left out)."""
    versions = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "==" in line and " @ " not in line:
            name, version = line.split("==", 1)
            versions[normalise(name)] = version.strip()
    return versions


def colab_python_version(path: Path = OS_INFO) -> tuple[int, int]:
    """Colab's Python minor version, from the ``Python 3.13.15`` line of os-info.txt."""
    found = re.search(r"^Python (\d+)\.(\d+)", path.read_text(), re.M)
    if not found:
        raise ValueError(f"{path} has no 'Python X.Y' line")
    return int(found.group(1)), int(found.group(2))


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys, venv, ensurepip; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def find_python() -> tuple[str, str]:
    """(interpreter, note): Colab's Python minor version if this machine has it, else python3."""
    major, minor = colab_python_version()
    wanted = f"python{major}.{minor}"
    candidates = [shutil.which(wanted)]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted((str(p) for p in Path(pyenv_root).glob(f"versions/{major}.{minor}.*/bin/{wanted}")),
                         key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parents[1].name)], reverse=True)
    candidates += [f"/usr/bin/{wanted}", f"/usr/local/bin/{wanted}"]
    for candidate in filter(None, candidates):
        if _version_of(candidate) == (major, minor):
            return candidate, f"Colab's Python {major}.{minor} ({candidate})"
    fallback = shutil.which("python3") or sys.executable
    found = _version_of(fallback)
    shown = ".".join(map(str, found)) if found else "?"
    return fallback, (f"Python {shown} ({fallback}): this machine has no Python {major}.{minor}, "
                      "the version Colab runs; the chapters run with this one instead")


def course_requirements() -> list[str]:
    """The course package's dependencies (pyproject.toml) and the --no-deps packages chapters install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    no_deps = [line.split("#")[0].strip() for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines()]
    return list(project["dependencies"]), [line for line in no_deps if line]


class ColabEnvironment:
    """The pristine environment, its wheelhouse, the working copy a chapter runs in, and its kernel."""

    KERNEL = "colab"

    def __init__(self, home: Path = HOME):
        self.home = Path(home)
        self.pristine = self.home / "pristine"
        self.run = self.home / "run"
        self.wheelhouse = self.home / "wheelhouse"
        self.constraints = self.home / "colab-constraints.txt"
        self.stamp = self.home / "pristine.json"
        self.jupyter_path = self.home / "jupyter"

    # -- building -----------------------------------------------------------------------
    def inputs_digest(self, python: str) -> str:
        course, no_deps = course_requirements()
        text = json.dumps([FREEZE.read_text(), PREINSTALLED, course, no_deps, python, _version_of(python)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def is_current(self, python: str) -> bool:
        if not self.stamp.exists() or not (self.pristine / "bin" / "python").exists():
            return False
        return json.loads(self.stamp.read_text()).get("inputs") == self.inputs_digest(python)

    def build(self, force: bool = False) -> dict:
        python, note = find_python()
        print(f"Colab-like environment: {note}", flush=True)
        if not force and self.is_current(python):
            print(f"{self.pristine} is up to date", flush=True)
            return json.loads(self.stamp.read_text())
        colab = colab_versions()
        self.home.mkdir(exist_ok=True)
        for old in self.home.glob("run.old-*"):          # copies a background deletion left
            shutil.rmtree(old, ignore_errors=True)
        self.constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(colab.items())))
        shutil.rmtree(self.pristine, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(self.pristine)], check=True)
        pip = [str(self.pristine / "bin" / "python"), "-m", "pip"]
        quiet = ["--quiet", "--disable-pip-version-check"]
        course, no_deps = course_requirements()
        wanted = PREINSTALLED + course
        # Everything goes through the wheelhouse, so a rebuild needs no network and the
        # chapters' %pip finds what it needs there too.
        self.wheelhouse.mkdir(exist_ok=True)
        subprocess.run([*pip, "download", *quiet, "-d", str(self.wheelhouse), "-c", str(self.constraints), *wanted],
                       check=True)
        subprocess.run([*pip, "download", *quiet, "--no-deps", "-d", str(self.wheelhouse), *no_deps], check=True)
        local = ["--no-index", "--find-links", str(self.wheelhouse)]
        subprocess.run([*pip, "install", *quiet, *local, "-c", str(self.constraints), *wanted], check=True)
        # What Colab lacks (the course's own data packages) goes again: a chapter's setup
        # cell installs it, as in Colab. What they brought that Colab has stays, at Colab's version.
        extra = sorted(set(self.installed(self.pristine / "bin" / "python")) - set(colab))
        if extra:
            subprocess.run([*pip, "uninstall", "--quiet", "--yes", *extra], check=True)
        packages = self.installed(self.pristine / "bin" / "python")
        differs = {n: (v, colab.get(n)) for n, v in packages.items() if colab.get(n) != v}
        if differs:
            raise SystemExit(f"the Colab-like environment differs from Colab's list (have, Colab): {differs}")
        record = {"inputs": self.inputs_digest(python), "python": python, "note": note,
                  "python_version": ".".join(map(str, _version_of(python))), "packages": packages}
        self.stamp.write_text(json.dumps(record, indent=1, sort_keys=True))
        print(f"{self.pristine}: {len(packages)} packages, all at Colab's versions", flush=True)
        return record

    # -- using --------------------------------------------------------------------------
    @staticmethod
    def installed(python: Path | str) -> dict[str, str]:
        """Package -> version of what ``python`` has installed (read without pip)."""
        code = ("import importlib.metadata as m, json; "
                "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
        # -I: neither the current folder (which may hold an .egg-info) nor PYTHONPATH counts.
        out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=True)
        return {normalise(name): version for name, version in json.loads(out.stdout).items()}

    def fresh_copy(self) -> Path:
        """A working copy of the pristine environment (hard links), replacing the last one."""
        if not (self.pristine / "bin" / "python").exists():
            raise RuntimeError(f"{self.pristine} is missing: run `make colab-env` "
                               "(python tests/colab_env.py build) first")
        if self.run.exists():
            # The last copy is moved aside and deleted in the background, while the next runs.
            old = self.home / f"run.old-{os.getpid()}-{time.monotonic_ns()}"
            self.run.rename(old)
            subprocess.Popen(["rm", "-rf", str(old)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["cp", "-al", str(self.pristine), str(self.run)], check=True)
        return self.run / "bin" / "python"

    def write_kernel(self, python: Path | str, env: dict[str, str]) -> str:
        """A kernel spec named ``colab`` under ``self.jupyter_path`` that starts ``python``."""
        spec = self.jupyter_path / "kernels" / self.KERNEL
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Colab-like Python", "language": "python",
            # The runner's own packages must not leak into the kernel.
            "env": {"PYTHONPATH": "", **env}}, indent=1))
        return self.KERNEL

    def offline_pip(self) -> dict[str, str]:
        """Environment that makes a kernel's ``%pip`` install from the wheelhouse only."""
        return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(self.wheelhouse),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "describe"])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    env = ColabEnvironment()
    if args.command == "build":
        env.build(force=args.force)
    else:
        record = json.loads(env.stamp.read_text())
        print(record["note"])
        for name in ("tensorflow", "keras", "numpy", "pandas", "ipywidgets", "ipykernel", "scikit-learn"):
            print(f"{name} {record['packages'].get(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
