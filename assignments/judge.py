"""Grade one notebook: its cells run in a sandboxed kernel, its tests run here.

The two sides of a graded run:

* **The kernel** (untrusted) runs the student's cells. Under Linux with bubblewrap it sees
  only the Python environment, the course package, its own scratch folder (the notebook,
  the visible tests, a home folder) and an exchange folder; no other file of the machine,
  no network, no other process. It runs as an unprivileged user with no capabilities and
  has limits on memory, processes, file size and open files. It never receives a hidden
  test, an expected value or anything else of the grader's.
* **The judge** (this module, trusted, outside the sandbox) holds the tests. After the
  student's cells have run it evaluates every test here, in its own interpreter. When a
  test names one of the notebook's variables, the judge asks the kernel for its value and
  gets plain data back (``kernel_side.py``): JSON, ``.npy`` files read without pickle, data
  frames as plain columns, Keras models as ``.keras`` files loaded in safe mode. Functions
  and other objects come back as handles: calling one (``build_mlp(5)``) asks the kernel to
  call it with plain-data arguments and returns the result as plain data; an attribute
  (``history.history``) is fetched the same way. So no object made by the student's code
  ever runs in this process, and nothing the kernel does can change a comparison.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import queue
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTERRUPT_GRACE = 10            # seconds a cell gets to stop after an interrupt
MAX_RESTARTS = 3
REQUEST_TIMEOUT = 120           # seconds for the kernel to answer one request of the tests

# Limits of one graded run (the kernel and everything it starts).
LIMITS = {
    "memory_bytes": 4 * 2**30,        # data segment and private mappings (RLIMIT_DATA)
    "processes": 256,                 # processes and threads of the sandbox user (RLIMIT_NPROC)
    "file_bytes": 2**30,              # largest file it may write (RLIMIT_FSIZE)
    "open_files": 4096,
    "output_bytes": 20 * 2**20,       # what its cells may print, in all
    "disk_bytes": 2 * 2**30,          # its scratch folder, in all
    "tmp_bytes": 512 * 2**20,         # its /tmp and /dev/shm (memory file systems)
    "answer_bytes": 512 * 2**20,      # one answer to the judge
}
SANDBOX_UID = int(os.environ.get("DL4SS_SANDBOX_UID", "64999"))   # used when the grader runs as root


class Refused(Exception):
    """The kernel's answer cannot be used (too big, not plain data, not there)."""


# ---------------------------------------------------------------------------------------
# The sandbox
# ---------------------------------------------------------------------------------------

def bubblewrap() -> str | None:
    """The ``bwrap`` executable if it can make a sandbox here, else None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    probe = subprocess.run([exe, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-net", "--unshare-pid", "true"],
                           capture_output=True)
    return exe if probe.returncode == 0 else None


def environment_paths() -> list[str]:
    """What the kernel must read: the Python installation, the virtual environment and
    packages installed in editable mode (the course package ``utils``)."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    import importlib.util
    for package in ("utils",):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            paths.add(os.path.realpath(location))
    # Drop paths inside other paths; /usr comes with the system anyway.
    kept = sorted(p for p in paths if not p.startswith("/usr/"))
    return [p for p in kept if not any(p != q and p.startswith(q + "/") for q in kept)]


ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "fonts", "alternatives")


def sandbox_prefix(bwrap: str, root: Path, workdir: Path, limits: dict) -> list[str]:
    """The command that runs a program in the sandbox: read-only system and Python, read-write
    ``root`` only, no network, own process table, unprivileged, with resource limits."""
    args = [bwrap]
    made = {"/"}

    def parents(path: str) -> None:
        # bwrap makes missing parent folders with mode 0700, which the sandbox user could not
        # enter (/root/.pyenv/...): make them 0755 first.
        current = ""
        for part in Path(path).parts[1:-1]:
            current += "/" + part
            if current not in made:
                args.extend(["--perms", "0755", "--dir", current])
                made.add(current)

    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args.extend(["--symlink", os.readlink(top), top])
        elif os.path.isdir(top):
            args.extend(["--ro-bind", top, top])
    args.extend(["--ro-bind", "/usr", "/usr"])
    args.extend(["--perms", "0755", "--dir", "/etc"])
    made.add("/etc")
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args.extend(["--ro-bind", f"/etc/{name}", f"/etc/{name}"])
    # The memory file systems first: a virtual environment or a scratch folder under /tmp is
    # then mounted on top of the new /tmp, not hidden by it.
    args.extend(["--dev", "/dev", "--proc", "/proc",
                 "--perms", "1777", "--size", str(limits["tmp_bytes"]), "--tmpfs", "/tmp",
                 "--perms", "1777", "--size", str(limits["tmp_bytes"]), "--tmpfs", "/dev/shm"])
    made.update({"/dev", "/proc", "/tmp", "/dev/shm"})
    for path in environment_paths():
        parents(path + "/x")
        made.add(path)
        args.extend(["--ro-bind", path, path])
    parents(str(root) + "/x")
    # The scratch folder read-only, its sub-folders writable: each is a mount point, which the
    # notebook can empty but neither delete nor replace (``shutil.rmtree("..")``).
    args.extend(["--ro-bind", str(root), str(root)])
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        args.extend(["--bind", str(sub), str(sub)])
    args.extend(["--chdir", str(workdir),
                 "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--hostname", "sandbox", "--die-with-parent", "--new-session", "--"])
    if os.geteuid() == 0:
        # As root: become a user of our own, without capabilities, before anything of the
        # student's runs; the process limit then counts that user's processes only.
        args.extend([shutil.which("setpriv") or "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}",
                     "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"])
        processes = limits["processes"]
    else:
        # The limit counts all of this user's processes: allow for those already running.
        processes = limits["processes"] + _processes_of(os.getuid())
    args.extend([shutil.which("prlimit") or "prlimit", f"--data={limits['memory_bytes']}", f"--nproc={processes}",
                 f"--fsize={limits['file_bytes']}", f"--nofile={limits['open_files']}", "--core=0", "--"])
    return args


def _processes_of(uid: int) -> int:
    """Processes and threads of ``uid`` now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def folder_size(path: Path, limit: int) -> int:
    """Bytes in ``path`` (stops counting past ``limit``)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
            if total > limit:
                return total
    return total


# ---------------------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------------------

class Kernel:
    """A Jupyter kernel in the sandbox, reached through Unix sockets in its scratch folder."""

    def __init__(self, root: Path, workdir: Path, home: Path, *, sandbox: bool, limits: dict, env: dict):
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.root, self.limits, self.output_bytes = root, limits, 0
        self.sockets = root / "sockets"
        self.sockets.mkdir()
        self.exchange = root / "exchange"
        self.exchange.mkdir()
        connection, _ = write_connection_file(str(root / "kernel.json"), transport="ipc", ip=str(self.sockets / "k"))
        bwrap = bubblewrap() if sandbox else None
        self.isolated = bwrap is not None
        if self.isolated and os.geteuid() == 0:
            for path in (root, workdir, home, self.sockets, self.exchange):
                for folder, dirs, files in os.walk(path):
                    for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                        os.lchown(name, SANDBOX_UID, SANDBOX_UID)
        command = [sys.executable, "-m", "ipykernel_launcher", "-f", connection,
                   "--HistoryManager.hist_file=:memory:"]
        if self.isolated:
            command = sandbox_prefix(bwrap, root, workdir, limits) + command
        self.process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.client = BlockingKernelClient()
        self.client.load_connection_file(connection)
        self.client.start_channels()
        try:
            self._wait_until_ready()
        except BaseException:
            self.client.stop_channels()
            self._kill()
            raise
        if self.isolated and os.geteuid() == 0:
            # The kernel has made its sockets; from now on it cannot replace them (by a link to
            # another socket of this machine, which the judge would follow when reconnecting).
            os.chown(self.sockets, 0, 0)
            os.chmod(self.sockets, 0o755)
        self.exchange_fd = os.open(self.exchange, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def _wait_until_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError("the kernel did not start")
            try:
                self.client.wait_for_ready(timeout=2)
                return
            except RuntimeError:
                continue
        raise RuntimeError("the kernel did not start within 120 s")

    def alive(self) -> bool:
        return self.process.poll() is None

    def interrupt(self) -> None:
        self.client.control_channel.send(self.client.session.msg("interrupt_request", {}))

    def _kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def close(self) -> None:
        try:
            self.client.stop_channels()
        finally:
            self._kill()
            os.close(self.exchange_fd)

    def run(self, code: str, timeout: float, *, silent: bool = False) -> dict:
        """Execute ``code``: status ok/error/timeout/interrupted/died/output/disk."""
        msg_id = self.client.execute(code, silent=silent, store_history=not silent, allow_stdin=False,
                                     stop_on_error=False)
        deadline = time.monotonic() + timeout
        interrupted_at, outcome, next_disk_check = None, {"status": "ok"}, time.monotonic() + 2
        while True:
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                self.interrupt()
                interrupted_at = now
            if interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE:
                return {"status": "timeout"}
            if now > next_disk_check:
                next_disk_check = now + 2
                if folder_size(self.root, self.limits["disk_bytes"]) > self.limits["disk_bytes"]:
                    return {"status": "disk"}
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if not self.alive():
                    return {"status": "died"}
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "display_data", "execute_result", "update_display_data", "error"):
                self.output_bytes += len(json.dumps(content))
                if self.output_bytes > self.limits["output_bytes"]:
                    return {"status": "output"}
            if kind == "error":
                outcome = {"status": "error", "error": f"{content.get('ename')}: {content.get('evalue')}"[:500]}
            elif kind == "status" and content.get("execution_state") == "idle":
                if interrupted_at is not None:
                    outcome["status"] = "interrupted"
                return outcome

    # -- the exchange folder ---------------------------------------------------------------
    def read(self, name: str, limit: int) -> bytes:
        """A file the kernel wrote into the exchange folder: never a link, never outside it."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.exchange_fd)
        except OSError as error:
            raise Refused(f"the kernel's answer {name} is missing or not a file ({error.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"the kernel's answer {name} is not a regular file")
            if info.st_size > limit:
                raise Refused(f"the kernel's answer is larger than {limit // 2**20} MB")
            return f.read(limit + 1)[:limit]

    def write(self, suffix: str, data: bytes) -> str:
        """A new file in the exchange folder for the kernel to read (never an existing one)."""
        name = f"judge-{secrets.token_hex(8)}{suffix}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=self.exchange_fd)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return name


# ---------------------------------------------------------------------------------------
# Plain data from the kernel
# ---------------------------------------------------------------------------------------

EXPORTER = "_dl4ss_exporter"
CLASS_PACKAGES = {"keras", "sklearn", "numpy", "pandas", "tensorflow", "scipy", "builtins", "collections"}


class RemoteObject:
    """An object that stays in the kernel: its attributes are fetched as plain data when used."""

    def __init__(self, values: "KernelValues", handle: int, class_path: str, mro: list[str]):
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_class_path", class_path)
        object.__setattr__(self, "_mro", mro)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._values.request({"op": "attr", "handle": self._handle, "attr": name}, f"attribute {name}")

    @property
    def __class__(self):
        # isinstance(x, keras.callbacks.EarlyStopping) holds, also for the notebook's own
        # subclass of it: the nearest class of a trusted library in the object's MRO.
        for path in [self._class_path] + self._mro:
            known = _known_class(path)
            if known is not None:
                return known
        return RemoteObject

    def __repr__(self):
        return f"<{self._class_path} in the student's kernel>"


class RemoteFunction(RemoteObject):
    """A function of the notebook: calling it asks the kernel to call it with plain data."""

    def __call__(self, *args, **kwargs):
        request = {"op": "call", "handle": self._handle, "args": [self._values.encode(a) for a in args],
                   "kwargs": {str(k): self._values.encode(v) for k, v in kwargs.items()}}
        return self._values.request(request, f"a call of {self._class_path}")

    @property
    def __class__(self):
        return RemoteFunction

    def __repr__(self):
        return f"<function {self._class_path} in the student's kernel>"


def _known_class(path: str):
    """The class named ``path`` if it belongs to a library the judge trusts, else None."""
    module_name, _, qualname = path.rpartition(".")
    while module_name and module_name.split(".")[0] in CLASS_PACKAGES:
        module = sys.modules.get(module_name)
        if module is None:
            try:
                import importlib
                module = importlib.import_module(module_name)
            except Exception:
                return None
        value = module
        try:
            for part in qualname.split("."):
                value = getattr(value, part)
        except AttributeError:
            return None
        return value if isinstance(value, type) else None
    return None


class KernelValues:
    """The notebook's variables, as the judge sees them: fetched on demand, decoded safely."""

    def __init__(self, kernel: Kernel, limits: dict):
        self.kernel, self.limits = kernel, limits
        self.by_handle: dict[int, object] = {}
        self.handle_of: dict[int, int] = {}            # id() of a decoded model -> its handle
        self.private = Path(tempfile.mkdtemp(prefix="dl4ss-judge-"))   # never seen by the kernel
        self.requests = 0

    def start(self) -> None:
        source = (HERE / "kernel_side.py").read_text()
        code = (f"def _dl4ss_make_exporter(source, exchange):\n"
                f"    space = {{'__name__': 'dl4ss_kernel_side'}}\n"
                f"    exec(compile(source, 'kernel_side.py', 'exec'), space)\n"
                f"    return space['PlainDataExporter'](get_ipython().user_ns, exchange)\n"
                f"{EXPORTER} = _dl4ss_make_exporter({source!r}, {str(self.kernel.exchange)!r})\n"
                f"del _dl4ss_make_exporter\n")
        self.kernel.run(code, REQUEST_TIMEOUT, silent=True)

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)

    def get(self, name: str):
        return self.request({"op": "get", "name": name}, f"the variable {name}")

    def request(self, request: dict, what: str):
        self.requests += 1
        reply = f"reply-{self.requests}-{secrets.token_hex(4)}.json"
        outcome = self.kernel.run(f"{EXPORTER}.serve({json.dumps(request)!r}, {reply!r})", REQUEST_TIMEOUT,
                                  silent=True)
        if outcome["status"] != "ok":
            raise Refused(f"the kernel did not give {what} ({outcome['status']}"
                          f"{': ' + outcome['error'] if outcome.get('error') else ''})")
        try:
            answer = json.loads(self.kernel.read(reply, 64 * 2**20))
        except ValueError:
            raise Refused(f"the kernel's answer for {what} is not JSON") from None
        if answer.get("t") == "missing":
            raise (NameError if request["op"] == "get" else AttributeError)(f"{what} is not defined")
        if answer.get("t") == "error":
            raise Refused(f"the kernel could not give {what}: {answer.get('message', '')}")
        return self.decode(answer)

    # -- decoding (kernel -> judge): only plain data comes out -------------------------------
    def decode(self, item: dict, depth: int = 0):
        if not isinstance(item, dict) or depth > 25:
            raise Refused("the kernel's answer is not plain data")
        kind = item.get("t")
        if kind == "json":
            value = item.get("v")
            if value is None or type(value) in (bool, int, str):
                return value
            raise Refused("the kernel's answer is not plain data")
        if kind == "float":
            return float(str(item["v"]))
        if kind in ("list", "tuple", "set"):
            values = [self.decode(v, depth + 1) for v in item["items"]]
            return {"list": list, "tuple": tuple, "set": set}[kind](values)
        if kind == "dict":
            return {self.decode(k, depth + 1): self.decode(v, depth + 1) for k, v in item["items"]}
        if kind == "ndarray":
            return self._array(item)
        if kind == "objects":
            import numpy as np
            values = [self.decode(v, depth + 1) for v in item["items"]]
            array = np.empty(len(values), dtype=object)
            array[:] = values
            return array.reshape([int(n) for n in item["shape"]])
        if kind == "frame":
            return self._frame(item, depth)
        if kind == "series":
            import pandas as pd
            series = self._column(item["values"], depth)
            series.index = self._index(item["index"], depth)
            series.name = self.decode(item["name"], depth + 1)
            return series
        handle = int(item.get("handle", 0))
        if handle in self.by_handle:                   # the same object as before: `a.model is b` holds
            return self.by_handle[handle]
        if kind == "keras":
            value = self._keras(item)
            self.handle_of[id(value)] = handle
        elif kind == "function":
            value = RemoteFunction(self, handle, str(item.get("name", "function")), [])
        elif kind == "record":
            value = RemoteObject(self, handle, str(item.get("class", "object")), [str(c) for c in item.get("mro", [])])
        else:
            raise Refused(f"the kernel's answer has an unknown kind {kind!r}")
        self.by_handle[handle] = value
        return value

    def _array(self, item: dict):
        import numpy as np
        data = self.kernel.read(str(item["file"]), self.limits["answer_bytes"])
        array = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biufcmM":
            raise Refused("the kernel's array is not numbers")
        return array

    def _column(self, item: dict, depth: int):
        import numpy as np
        import pandas as pd
        kind = item.get("t")
        if kind == "column":
            return pd.Series(self._array(item["values"]))
        if kind == "masked":
            values = pd.Series(self._array(item["values"])).astype(str(item["dtype"]))
            values[self._array(item["mask"]).astype(bool)] = pd.NA
            return values
        if kind == "category":
            categories = self._index(item["categories"], depth)
            return pd.Series(pd.Categorical.from_codes(self._array(item["codes"]), categories=categories,
                                                       ordered=bool(item["ordered"])))
        if kind == "text":
            values = [self.decode(v, depth + 1) for v in item["items"]]
            try:
                return pd.Series(values, dtype=str(item["dtype"]))
            except (TypeError, ValueError):
                return pd.Series(values, dtype=object)
        if kind == "range":
            return pd.Series(np.arange(int(item["start"]), int(item["stop"]), int(item["step"])))
        raise Refused("the kernel's column is not plain data")

    def _index(self, item: dict, depth: int):
        import pandas as pd
        if item.get("t") == "range":
            return pd.RangeIndex(int(item["start"]), int(item["stop"]), int(item["step"]))
        column = self._column(item, depth)
        return pd.Index(column.array if hasattr(column, "array") else column)

    def _frame(self, item: dict, depth: int):
        import pandas as pd
        names = [self.decode(name, depth + 1) for name, _ in item["columns"]]
        columns = [self._column(column, depth).reset_index(drop=True) for _, column in item["columns"]]
        frame = pd.concat(columns, axis=1, ignore_index=True) if columns else pd.DataFrame()
        frame.columns = names
        frame.index = self._index(item["index"], depth) if columns else frame.index
        return frame

    def _keras(self, item: dict):
        data = self.kernel.read(str(item["file"]), self.limits["answer_bytes"])
        path = self.private / f"model-{secrets.token_hex(6)}.keras"
        path.write_bytes(data)
        import keras
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as error:
            raise Refused(f"the Keras model could not be loaded in safe mode ({type(error).__name__}: "
                          f"{str(error)[:300]})") from None
        finally:
            path.unlink()

    # -- encoding (judge -> kernel): arguments of calls -----------------------------------
    def encode(self, value, depth: int = 0) -> dict:
        import numpy as np
        if depth > 25:
            raise TypeError("an argument nested more than 25 levels deep")
        if value is None or type(value) in (bool, int, str):
            return {"t": "json", "v": value}
        if type(value) is float:
            return {"t": "float", "v": repr(value)}
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return self.encode(value.item(), depth)
        if type(value) in (list, tuple, set):
            return {"t": type(value).__name__, "items": [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict:
            return {"t": "dict", "items": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if type(value) is np.ndarray and value.dtype.kind in "biufcmM":
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            return {"t": "ndarray", "file": self.kernel.write(".npy", buffer.getvalue())}
        if isinstance(value, RemoteObject):
            return {"t": "ref", "handle": value._handle}
        if id(value) in self.handle_of:
            return {"t": "ref", "handle": self.handle_of[id(value)]}
        raise TypeError(f"a test cannot send a {type(value).__name__} to the student's kernel")


# ---------------------------------------------------------------------------------------
# The tests, run here
# ---------------------------------------------------------------------------------------

def doctest_trees(code: str) -> list[ast.AST]:
    """The parsed statements of a doctest (those that do not parse fail when the test runs)."""
    import doctest

    trees = []
    for example in doctest.DocTestParser().get_examples(code):
        try:
            trees.append(ast.parse(example.source))
        except SyntaxError:
            continue
    return trees


def names_used(code: str) -> list[str]:
    """Names a doctest's code reads but neither binds nor gets from Python: the notebook's."""
    loaded, bound = [], set()
    for tree in doctest_trees(code):
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (loaded.append if isinstance(node.ctx, ast.Load) else bound.add)(node.id)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
    seen = []
    for name in loaded:
        if name not in bound and not hasattr(builtins, name) and name not in seen:
            seen.append(name)
    return seen


def run_tests(values: KernelValues, specs: dict[str, dict]) -> dict:
    """Every question's test cases, run in this process on the notebook's values."""
    from otter.test_files.ok_test import OKTestFile

    results, fetched, unavailable = {}, {}, {}
    for name, spec in specs.items():
        env = {"__builtins__": builtins}
        for case in spec["suites"][0]["cases"]:
            for variable in names_used(case["code"]):
                if variable not in fetched and variable not in unavailable:
                    try:
                        fetched[variable] = values.get(variable)
                    except NameError:
                        unavailable[variable] = None
                    except Refused as error:
                        unavailable[variable] = str(error)
        env.update(fetched)
        try:
            test_file = OKTestFile.from_spec(spec, path=name)
            with _quiet():
                test_file.run(env)
            results[name] = [{"passed": bool(r.passed), "message": _message(str(r.message), unavailable)}
                             for r in test_file.test_case_results]
        except Exception as error:
            results[name] = {"error": type(error).__name__ + ": " + str(error)[:500]}
    return results


def _message(message: str, unavailable: dict) -> str:
    notes = [f"{name}: {why}" for name, why in unavailable.items() if why and name in message]
    return (message + ("\n" + "\n".join(notes) if notes else ""))[-3000:]


class _quiet:
    """Keep what the tests print (a model's summary, say) out of the judge's report."""

    def __enter__(self):
        import contextlib
        self.stack = contextlib.ExitStack()
        self.stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self.stack.enter_context(contextlib.redirect_stderr(io.StringIO()))

    def __exit__(self, *exc):
        self.stack.close()


# ---------------------------------------------------------------------------------------
# One submission, start to end
# ---------------------------------------------------------------------------------------

def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def modules_the_tests_import(specs: dict[str, dict]) -> list[str]:
    """Top-level modules the tests import (numpy, keras ...)."""
    found = []
    for spec in specs.values():
        for case in spec["suites"][0]["cases"]:
            for tree in doctest_trees(case["code"]):
                for node in ast.walk(tree):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                        [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
                    found += [n.split(".")[0] for n in names if n.split(".")[0] not in found]
    return found


def _import_quietly(names: list[str]) -> None:
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:                # the test that imports it will say why
            pass


def judge(job: dict) -> dict:
    """Run the notebook's cells in a sandboxed kernel, then the tests here."""
    import threading

    import nbformat

    # The judge's own imports for the tests (keras takes seconds) while the notebook runs.
    preload = threading.Thread(target=_import_quietly, args=(modules_the_tests_import(job["specs"]) + ["otter"],),
                               daemon=True)
    preload.start()
    limits = {**LIMITS, **job.get("limits", {})}
    nb = nbformat.read(job["notebook"], as_version=4)
    code_cells = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    root, workdir, home = Path(job["root"]), Path(job["workdir"]), Path(job["home"])
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "LANG", "LC_ALL", "DL4SS_FAST", "DL4SS_OFFLINE", "TF_CPP_MIN_LOG_LEVEL",
                    "TF_ENABLE_ONEDNN_OPTS", "VIRTUAL_ENV")}
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               MPLCONFIGDIR=str(home / "matplotlib"), KERAS_HOME=str(home / "keras"), PYTHONNOUSERSITE="1")
    (home / "tmp").mkdir(exist_ok=True)
    skip = {int(i) for i in job.get("skip", [])}
    events: list[dict] = []
    notes = {"isolated": False}
    for attempt in range(MAX_RESTARTS + 1):
        for leftover in ("sockets", "exchange", "kernel.json"):
            path = root / leftover
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        kernel = Kernel(root, workdir, home, sandbox=job.get("sandbox", True), limits=limits, env=env)
        notes["isolated"] = kernel.isolated
        try:
            restart = False
            for index, source in code_cells:
                if index in skip:
                    continue
                _progress(f"cell {index}")
                outcome = kernel.run(source, job["cell_timeout"])
                if outcome["status"] == "ok":
                    continue
                event = {"cell": index, "status": outcome["status"], "error": outcome.get("error", "")}
                if event not in events:
                    events.append(event)
                if outcome["status"] in ("timeout", "died", "output", "disk"):
                    skip.add(index)
                    restart = True
                    break
            if restart:
                continue
            _progress("tests")
            preload.join()
            values = KernelValues(kernel, limits)
            try:
                values.start()
                results = run_tests(values, job["specs"])
            finally:
                values.close()
            if job.get("after_tests"):
                # The test suite's look inside the kernel once the tests have run: its code
                # leaves what it found in ``dl4ss_probe``.
                kernel.run(job["after_tests"], job["cell_timeout"], silent=True)
                values = KernelValues(kernel, limits)
                try:
                    values.start()
                    notes["probe"] = values.get("dl4ss_probe")
                finally:
                    values.close()
            return {"events": events, "skipped": sorted(skip), "results": results, **notes}
        finally:
            kernel.close()
    return {"events": events, "skipped": sorted(skip), "results": {}, **notes,
            "gave_up": f"the kernel had to be restarted more than {MAX_RESTARTS} times"}


def main() -> None:
    """``python judge.py``: the job comes on stdin, the report goes to stdout."""
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)                                          # libraries' prints must not garble the report
    try:
        report = judge(job)
    except Exception as error:                                    # reported, never raised
        report = {"events": [], "skipped": [], "results": {}, "gave_up": f"{type(error).__name__}: {error}"}
    real_stdout.write(json.dumps(report) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
