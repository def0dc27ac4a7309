import os
import subprocess
import sys
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
def site(tmp_path_factory):
    """The book, built once per test session (test_book.py and test_site_browser.py use it).

    DL4SS_SITE=<path to _build/html> reuses a site built before (while writing tests).
    """
    if os.environ.get("DL4SS_SITE"):
        return Path(os.environ["DL4SS_SITE"])
    out = tmp_path_factory.mktemp("book")
    env = {**os.environ, "DL4SS_FAST": os.environ.get("DL4SS_FAST", "1"),
           "DL4SS_OFFLINE": os.environ.get("DL4SS_OFFLINE", "1")}
    jb = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run([str(jb), "build", str(ROOT), "-n", "-W", "--keep-going",
                          "--path-output", str(out)], env=env, capture_output=True, text=True)
    log = run.stdout + run.stderr
    # -W turns every Sphinx warning into an error, so a zero exit means zero warnings.
    assert run.returncode == 0, "the book build failed or warned:\n" + log[-6000:]
    assert "build succeeded." in log and "warning" not in log.split("build succeeded")[1][:40]
    return out / "_build" / "html"
