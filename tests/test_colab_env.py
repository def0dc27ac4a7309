"""The Colab-like environment (tests/colab_env.py) is Colab's published one, and the course
package installs into it without changing any version Colab has."""

import json
import subprocess
import sys

import pytest

import colab_env
from colab_env import PREINSTALLED, ColabEnvironment, colab_python_version, colab_versions, normalise

ENV = ColabEnvironment()


def test_the_kept_list_is_googles_and_readable():
    versions = colab_versions()
    assert len(versions) > 500, "the whole published list, not a selection"
    for name in ("tensorflow", "keras", "numpy", "pandas", "ipywidgets", "ipykernel"):
        assert name in versions
    assert colab_python_version() >= (3, 10)
    text = colab_env.FREEZE.read_text()
    assert "torch @ https://" in text and "torch" not in versions, "builds from URLs are left out"
    assert normalise("Jupyter_Client") == "jupyter-client" and "jupyter-client" in versions


def test_find_python_prefers_colabs_minor_version(tmp_path, monkeypatch):
    major, minor = colab_python_version()
    fake = tmp_path / "pyenv" / "versions" / f"{major}.{minor}.9" / "bin" / f"python{major}.{minor}"
    fake.parent.mkdir(parents=True)
    fake.write_text(f"#!/bin/sh\necho {major} {minor}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(colab_env, "_version_of", lambda p: (major, minor) if p == str(fake) else (3, 99))
    assert colab_env.find_python() == (str(fake), f"Colab's Python {major}.{minor} ({fake})")
    # Without it: the default python3, and the note says so.
    monkeypatch.setattr(colab_env, "_version_of", lambda p: (3, 99))
    python, note = colab_env.find_python()
    assert f"no Python {major}.{minor}" in note and "3.99" in note


def test_pristine_environment_has_colabs_versions():
    record = json.loads(ENV.stamp.read_text())
    installed = ColabEnvironment.installed(ENV.pristine / "bin" / "python")
    assert installed == record["packages"]
    colab = colab_versions()
    differs = {name: (version, colab.get(name)) for name, version in installed.items() if colab.get(name) != version}
    assert differs == {}, f"packages not at Colab's version (here, Colab): {differs}"
    assert {normalise(p) for p in PREINSTALLED} <= set(installed)
    major, minor = colab_python_version()
    if f"Python {major}.{minor}" in record["note"]:
        assert record["python_version"] == f"{major}.{minor}"
    else:
        print(record["note"])                      # shown with -s: which Python stood in


def test_course_package_installs_without_changing_what_colab_has(tmp_path):
    """pip's plan for the setup cell's install (a dry run into the pristine environment):
    nothing that Colab has is installed or upgraded."""
    root = colab_env.ROOT
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", str(root),
                    "-w", str(tmp_path)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("dl4ss_utils-*.whl"))
    report = tmp_path / "plan.json"
    plan = subprocess.run([str(ENV.pristine / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--quiet",
                           "--no-index", "--find-links", str(ENV.wheelhouse), "--report", str(report), str(wheel)],
                          capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = {normalise(item["metadata"]["name"]): item["metadata"]["version"]
               for item in json.loads(report.read_text())["install"]}
    colab = colab_versions()
    assert "dl4ss-utils" in planned
    assert {name: v for name, v in planned.items() if name in colab} == {}, "pip would change what Colab has"


def test_a_fresh_copy_leaves_the_pristine_environment_alone():
    python = ENV.fresh_copy()
    removed = subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "six"],
                             capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert "six" not in ColabEnvironment.installed(python)
    assert "six" in ColabEnvironment.installed(ENV.pristine / "bin" / "python")


def test_kernel_spec_keeps_the_runners_packages_out(tmp_path):
    env = ColabEnvironment(tmp_path)
    name = env.write_kernel("/some/python", {"DL4SS_PACKAGE": "x.whl"})
    spec = json.loads((tmp_path / "jupyter" / "kernels" / name / "kernel.json").read_text())
    assert spec["argv"][:3] == ["/some/python", "-m", "ipykernel_launcher"]
    assert spec["env"] == {"PYTHONPATH": "", "DL4SS_PACKAGE": "x.whl"}
    with pytest.raises(RuntimeError, match="make colab-env"):
        env.fresh_copy()
