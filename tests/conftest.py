import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib
import pytest

from notebook_tools import ROOT

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture
def offline(monkeypatch):
    """Force every loader onto its offline path."""
    monkeypatch.setenv("DL4SS_OFFLINE", "1")


@pytest.fixture
def online(monkeypatch):
    """Pretend the network works (downloads are faked by the test itself)."""
    import utils.data

    monkeypatch.delenv("DL4SS_OFFLINE", raising=False)
    monkeypatch.setattr(utils.data, "network_available", lambda timeout=None: True)


@pytest.fixture
def no_network(monkeypatch):
    """The network is down, but DL4SS_OFFLINE is not set."""
    import utils.data

    monkeypatch.delenv("DL4SS_OFFLINE", raising=False)
    monkeypatch.setattr(utils.data, "network_available", lambda timeout=None: False)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def site(request):
    """The book, built once per test session from this session's chapter runs (test_book.py
    and test_site_browser.py use it). It executes no notebook: the runs put every executed
    chapter into the jupyter-cache the build reads, and a chapter that did not run here is
    excluded from execution (its page then has no outputs, and its page checks fail).

    DL4SS_SITE=<path to _build/html> reuses a site built before (while writing tests).
    """
    if os.environ.get("DL4SS_SITE"):
        return Path(os.environ["DL4SS_SITE"])
    import yaml

    import notebook_runs

    h = notebook_runs.harness(request.config)
    h.book_dir.mkdir(parents=True, exist_ok=True)
    ran = {chapter for chapter, run in notebook_runs.runs().items() if run.complete}
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["exclude_patterns"] = [f"chapters/{c}.ipynb" for c in notebook_runs.chapter_stems()
                                             if c not in ran]
    # Paths in a config file are relative to its folder: point them at the repository.
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path)
                                            for name, path in config["sphinx"]["local_extensions"].items()}
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    config_file = h.book_dir / "_config.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    jb = Path(sys.executable).parent / "jupyter-book"
    start = time.monotonic()
    run = subprocess.run([str(jb), "build", str(ROOT), "-n", "-W", "--keep-going", "--config", str(config_file),
                          "--path-output", str(h.book_dir)], capture_output=True, text=True)
    h.stage_seconds["book build (no notebook executed)"] += time.monotonic() - start
    log = run.stdout + run.stderr
    (h.book_dir / "build.log").write_text(log)
    # -W turns every Sphinx warning into an error, so a zero exit means zero warnings.
    assert run.returncode == 0, "the book build failed or warned:\n" + log[-6000:]
    assert "build succeeded." in log and "warning" not in log.split("build succeeded")[1][:40]
    return h.book_dir / "_build" / "html"
