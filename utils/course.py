"""Session set-up shared by every chapter: seeds, quiet logs, run mode, versions.

A chapter starts with::

    from utils.course import setup
    cfg = setup()
    EPOCHS = cfg.pick(full=30, fast=3)

Importing this module has no side effects; TensorFlow is imported only inside
:func:`setup`.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

#: Set this environment variable to ``1`` for the fast mode CI uses.
FAST_ENV = "DL4SS_FAST"
#: Set this environment variable to ``1`` to make every loader use its offline copy.
OFFLINE_ENV = "DL4SS_OFFLINE"

DEFAULT_SEED = 42
_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def detect_platform() -> str:
    """Where this notebook runs: ``"colab"``, ``"binder"``, ``"ci"`` or ``"local"``."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "colab"
    if "BINDER_SERVICE_HOST" in os.environ or "BINDER_REPO_URL" in os.environ:
        return "binder"
    if env_flag("CI") or "GITHUB_ACTIONS" in os.environ:
        return "ci"
    return "local"


@dataclass(frozen=True)
class CourseConfig:
    """What :func:`setup` decided for this session."""

    fast: bool
    seed: int
    platform: str
    online: bool

    def pick(self, *, full, fast):
        """Return ``fast`` in fast mode and ``full`` otherwise.

        Size every expensive thing once with it, e.g.
        ``EPOCHS = cfg.pick(full=30, fast=3)``.
        """
        return fast if self.fast else full

    @property
    def data_source(self) -> str:
        return "network (with offline copies as fallback)" if self.online else "offline copies"


def setup(seed: int = DEFAULT_SEED, fast: bool | None = None, verbose: bool = True) -> CourseConfig:
    """Prepare a chapter session and return its :class:`CourseConfig`.

    - fixes the seeds of Python, NumPy and TensorFlow (``keras.utils.set_random_seed``);
    - silences TensorFlow's C++ log lines and uses the course's plot style;
    - reads fast mode from ``DL4SS_FAST`` (unless ``fast`` is given);
    - detects Colab, Binder or CI and whether the network is reachable;
    - prints the Python, TensorFlow and Keras versions and where data come from.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if fast is not None and not isinstance(fast, bool):
        raise TypeError(f"fast must be True, False or None, got {fast!r}")

    # Must be set before TensorFlow is imported to take effect.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import keras
        import tensorflow as tf
    except ImportError as err:  # pragma: no cover - depends on the machine
        raise ImportError(
            "This course needs TensorFlow and Keras. Install them with\n"
            "    pip install tensorflow\n"
            "(Colab already has them; locally run `make book` or "
            "`pip install -r requirements.txt`)."
        ) from err

    keras.utils.set_random_seed(seed)
    tf.get_logger().setLevel("ERROR")

    from . import plots
    from .data import network_available

    plots.use_course_style()
    cfg = CourseConfig(
        fast=env_flag(FAST_ENV) if fast is None else fast,
        seed=seed,
        platform=detect_platform(),
        online=network_available(),
    )
    if verbose:
        mode = "fast (DL4SS_FAST=1: fewer epochs and samples)" if cfg.fast else "full"
        print(
            f"Python {platform.python_version()} | TensorFlow {tf.__version__} | "
            f"Keras {keras.__version__}\n"
            f"running on: {cfg.platform} | mode: {mode} | seed: {seed}\n"
            f"data: {cfg.data_source}"
        )
    return cfg


def check_claim(claim: str, holds: bool, detail: str = "") -> None:
    """Print that a claim made in the text holds, or stop with an explanation.

    Chapters use it right after the numbers a sentence relies on, so a claim
    that stops being true (new data, new library version) fails loudly.
    """
    suffix = f" ({detail})" if detail else ""
    if not holds:
        raise AssertionError(f"The text claims: {claim}. That does not hold here{suffix}.")
    print(f"Checked: {claim}{suffix}.")


class _TestsNotHere:
    """Stands in for otter's grader when the visible tests are not beside the notebook."""

    def __init__(self, tests_dir: str):
        self.message = (
            f"The visible tests of this assignment are not here (no folder {tests_dir!r} beside the "
            "notebook; in Colab a notebook opened from GitHub arrives alone). Your code runs as "
            "usual, but grader.check cannot test it. To check your work, open the notebook from its "
            "folder (your assignment repository or the downloaded assignment folder), or in Colab "
            "run `!git clone <your repository URL>` and `%cd <repository name>` in a cell, then "
            "run the notebook from the start."
        )

    def check(self, question: str, *args, **kwargs) -> None:
        print(f"{question}: not checked. {self.message}")


def assignment_grader(notebook: str, tests_dir: str = "tests"):
    """otter-grader's ``Notebook`` for an assignment, or a stand-in that explains missing tests.

    Assignment notebooks call ``grader = assignment_grader("a1_vote_choice.ipynb")`` after
    ``setup()``; ``grader.check("q1")`` then runs the visible tests of question q1.
    """
    import otter

    if os.path.isdir(tests_dir):
        return otter.Notebook(notebook, tests_dir=tests_dir)
    stand_in = _TestsNotHere(tests_dir)
    print("Note: " + stand_in.message)
    return stand_in
