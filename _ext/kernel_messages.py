"""Reliable notebook runs: wait for kernel messages in short polls.

The book build (jupyter-book -> jupyter-cache -> nbclient) and the tests run notebooks
through jupyter_client's asyncio channels, which wait for the next kernel message with one
long ``zmq`` poll. Now and then (here: a few times in a hundred notebook runs, mostly right
after a cell that displays ipywidgets) that poll never wakes up although the message has
arrived: the kernel has finished the cell and is idle, the client waits until the cell
time-out, often 15 minutes, and the run fails. The same hang is reported upstream
(jupyter/nbclient#312, jupyter/nbconvert#1921, ucbds-infra/otter-grader#755).

:func:`patch` makes every asyncio channel wait in polls of at most one second, each of
which looks at the socket afresh, so a missed wake-up costs a second instead of the run.
Students never need this: JupyterLab and Colab do not use these channels this way, so it
lives beside the book's configuration, not in the course package. The book loads it as a
Sphinx extension (``_config.yml``, for ``make book``, which executes the notebooks), and
``tests/notebook_tools.py`` applies it before it runs a notebook with nbclient.
"""

from __future__ import annotations

import time
from queue import Empty

POLL_SLICE = 1.0  # seconds
clock = time.monotonic  # what the deadline is measured with (a test replaces it)


def patch() -> None:
    """Make ``AsyncZMQSocketChannel.get_msg`` poll in slices of at most ``POLL_SLICE`` s."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    if getattr(AsyncZMQSocketChannel.get_msg, "polls_in_slices", False):
        return

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else clock() + timeout
        while True:
            wait = POLL_SLICE if deadline is None else min(POLL_SLICE, max(0.0, deadline - clock()))
            if await self.socket.poll(int(wait * 1000)):
                return await self._recv()
            if deadline is not None and clock() >= deadline:
                raise Empty

    get_msg.polls_in_slices = True
    get_msg.__doc__ = AsyncZMQSocketChannel.get_msg.__doc__
    AsyncZMQSocketChannel.get_msg = get_msg


def setup(app):
    """Sphinx extension entry point (the book build)."""
    patch()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
