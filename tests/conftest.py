import os

import matplotlib
import pytest

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
