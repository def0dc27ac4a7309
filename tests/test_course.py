"""utils.course: setup(), fast mode, platform detection, claim checks."""

import pytest

from utils import course
from utils.course import CourseConfig, check_claim, detect_platform, env_flag, setup


def test_pick_follows_the_mode():
    fast = CourseConfig(fast=True, seed=1, platform="local", online=False)
    full = CourseConfig(fast=False, seed=1, platform="local", online=False)
    assert fast.pick(full=50, fast=5) == 5
    assert full.pick(full=50, fast=5) == 50
    with pytest.raises(TypeError):
        full.pick(50, 5)  # keywords only, so full and fast cannot be swapped by accident


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_env_flag(monkeypatch, value, expected):
    monkeypatch.setenv("DL4SS_SOMETHING", value)
    assert env_flag("DL4SS_SOMETHING") is expected


@pytest.mark.parametrize("env, expected", [
    ({"COLAB_RELEASE_TAG": "release-colab_2026"}, "colab"),
    ({"BINDER_SERVICE_HOST": "10.0.0.1"}, "binder"),
    ({"GITHUB_ACTIONS": "true"}, "ci"),
    ({"CI": "1"}, "ci"),
    ({}, "local"),
])
def test_detect_platform(monkeypatch, env, expected):
    for name in ("COLAB_RELEASE_TAG", "BINDER_SERVICE_HOST", "BINDER_REPO_URL", "GITHUB_ACTIONS", "CI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert detect_platform() == expected


def test_setup_reads_fast_mode_and_reports(monkeypatch, capsys):
    monkeypatch.setenv("DL4SS_FAST", "1")
    monkeypatch.setenv("DL4SS_OFFLINE", "1")
    cfg = setup(seed=7)
    out = capsys.readouterr().out
    assert cfg.fast and cfg.seed == 7 and not cfg.online
    assert cfg.pick(full=100, fast=3) == 3
    for text in ("Python 3.", "TensorFlow 2.", "Keras 3.", "mode: fast", "data: offline copies"):
        assert text in out
    monkeypatch.setenv("DL4SS_FAST", "0")
    assert not setup(verbose=False).fast
    assert setup(fast=True, verbose=False).fast  # an explicit argument wins over the variable


def test_setup_fixes_the_seeds(monkeypatch):
    import numpy as np
    import keras

    monkeypatch.setenv("DL4SS_OFFLINE", "1")
    setup(seed=3, verbose=False)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    setup(seed=3, verbose=False)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("kwargs, error, words", [
    ({"seed": -1}, ValueError, "non-negative integer"),
    ({"seed": 1.5}, ValueError, "non-negative integer"),
    ({"seed": True}, ValueError, "non-negative integer"),
    ({"fast": "yes"}, TypeError, "True, False or None"),
])
def test_setup_rejects_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        setup(verbose=False, **kwargs)


def test_check_claim(capsys):
    check_claim("two plus two is four", 2 + 2 == 4, "exactly")
    assert capsys.readouterr().out == "Checked: two plus two is four (exactly).\n"
    with pytest.raises(AssertionError, match="The text claims: pigs fly. That does not hold here"):
        check_claim("pigs fly", False)


def test_importing_utils_has_no_side_effects():
    import subprocess
    import sys

    code = ("import sys, utils, utils.course, utils.data, utils.plots, utils.widgets;"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], "importing utils must not import TensorFlow or Keras"
    assert course.FAST_ENV == "DL4SS_FAST"


def test_kernel_channels_poll_in_short_slices(monkeypatch):
    """Notebook runs wait for kernel messages in polls of at most a second (_ext/kernel_messages.py).

    A fake socket and a fake clock stand in for the kernel, so nothing depends on how busy
    the machine is: each poll the channel asks for lasts at most POLL_SLICE, the deadline
    holds, and a message that arrives after several slices is returned.
    """
    import asyncio
    from queue import Empty

    from jupyter_client.channels import AsyncZMQSocketChannel

    import kernel_messages as km

    km.patch()
    assert getattr(AsyncZMQSocketChannel.get_msg, "polls_in_slices", False)
    now = [0.0]
    monkeypatch.setattr(km, "clock", lambda: now[0])

    class Socket:
        """Polls advance the fake clock; a message is ready after ``ready_after`` polls."""

        def __init__(self, ready_after):
            self.polls, self.ready_after = [], ready_after

        async def poll(self, milliseconds):
            self.polls.append(milliseconds)
            now[0] += milliseconds / 1000
            return len(self.polls) > self.ready_after

    channel = AsyncZMQSocketChannel.__new__(AsyncZMQSocketChannel)

    async def receive():
        return {"msg_type": "kernel_info_request"}

    channel._recv = receive
    channel.socket = Socket(ready_after=10**6)
    try:
        asyncio.run(channel.get_msg(timeout=2.5))
        raise AssertionError("an empty channel must raise Empty")
    except Empty:
        pass
    assert channel.socket.polls == [1000, 1000, 500]        # slices of a second, the deadline kept
    channel.socket = Socket(ready_after=3)
    assert asyncio.run(channel.get_msg(timeout=None)) == {"msg_type": "kernel_info_request"}
    assert channel.socket.polls == [1000] * 4


def test_notebook_runs_poll_in_short_slices_outside_pytest_too():
    """tests/notebook_tools.run_notebook applies the fix itself, in a process without the plugin.

    CI once stalled for 900 s in a test that ran a notebook from a subprocess, where the
    pytest plugin had not patched the channels.
    """
    import subprocess
    import sys
    from pathlib import Path

    import nbformat

    tests = Path(__file__).parent
    code = ("import nbformat, tempfile, pathlib\n"
            "from jupyter_client.channels import AsyncZMQSocketChannel as C\n"
            "print(getattr(C.get_msg, 'polls_in_slices', False))\n"
            "from notebook_tools import run_notebook\n"
            "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('print(6 * 7)')])\n"
            "done = run_notebook(nb, cwd=pathlib.Path(tempfile.gettempdir()), timeout=60)\n"
            "print(done.cells[0].outputs[0]['text'].strip())\n"
            "print(getattr(C.get_msg, 'polls_in_slices', False))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tests,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "42", "True"]


def test_assignment_grader_explains_missing_tests(tmp_path, monkeypatch, capsys):
    """In Colab a notebook opened from GitHub has no tests/ beside it: say so instead of crashing."""
    import otter

    from utils.course import assignment_grader

    monkeypatch.chdir(tmp_path)
    grader = assignment_grader("a1.ipynb")
    assert "visible tests of this assignment are not here" in capsys.readouterr().out
    grader.check("q1")
    assert "q1: not checked" in capsys.readouterr().out

    import nbformat

    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "a1.ipynb")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "q1.py").write_text(
        "OK_FORMAT = True\ntest = {'name': 'q1', 'points': 1, 'suites': [{'cases': "
        "[{'code': '>>> assert x == 3\\n', 'hidden': False, 'locked': False}], 'scored': True, "
        "'setup': '', 'teardown': '', 'type': 'doctest'}]}\n")
    grader = assignment_grader("a1.ipynb")
    assert isinstance(grader, otter.Notebook)
    assert grader.check("q1", {"x": 3}).passed_all
    assert not grader.check("q1", {"x": 4}).passed_all
