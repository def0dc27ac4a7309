"""What runs inside the student's kernel when a submission is graded: it answers requests
for the values of the notebook's variables, as plain data.

The grader (``judge.py``, outside the sandbox) sends this file's source into the kernel
after the student's cells have run, then sends requests such as "the value of X_train",
"the attribute ``history`` of object 17" or "call build_mlp(5) and give me the result".
Each answer is written as files into the exchange folder:

* numbers, strings, booleans, None and lists, tuples, sets and dicts of them: JSON;
* NumPy arrays of numbers, booleans or dates: ``.npy`` (read back without pickle);
* pandas data frames and series: one ``.npy`` or JSON list per column;
* Keras models: the ``.keras`` file format (read back in safe mode);
* functions and other objects: a handle; the grader asks again for what it needs.

Nothing here is secret and nothing here is trusted: the grader decodes every answer with
readers that can only produce plain data, and it runs the tests (which never enter this
process) on that data. A notebook that changes this code only changes its own answers.
"""

import json
import os


class PlainDataExporter:
    def __init__(self, namespace, exchange):
        self.namespace = namespace
        self.exchange = exchange
        self.objects = {}          # handle -> object, kept alive so that handles stay unique
        self.count = 0

    # -- requests --------------------------------------------------------------------------
    def serve(self, request_text, reply_name):
        import tempfile
        request = json.loads(request_text)
        try:
            os.makedirs(tempfile.gettempdir(), exist_ok=True)   # a notebook may have emptied its home
            reply = self._answer(request)
        except BaseException as error:                # reported to the grader, never raised here
            reply = {"t": "error", "message": f"{type(error).__name__}: {error}"[:2000]}
        with open(os.path.join(self.exchange, reply_name), "w") as f:
            json.dump(reply, f)

    def _answer(self, request):
        op = request["op"]
        if op == "get":
            if request["name"] not in self.namespace:
                return {"t": "missing"}
            return self.encode(self.namespace[request["name"]])
        obj = self.objects[request["handle"]]
        if op == "attr":
            try:
                value = getattr(obj, request["attr"])
            except AttributeError:
                return {"t": "missing"}
            return self.encode(value)
        if op == "call":
            args = [self.decode(a) for a in request["args"]]
            kwargs = {k: self.decode(v) for k, v in request["kwargs"].items()}
            return self.encode(obj(*args, **kwargs))
        raise ValueError(f"unknown request {op!r}")

    # -- values to plain data --------------------------------------------------------------
    def _file(self, suffix):
        self.count += 1
        return f"value-{self.count}{suffix}"

    def _handle(self, obj):
        self.objects[id(obj)] = obj
        return id(obj)

    def encode(self, value, depth=0):
        import sys
        if depth > 20:
            raise ValueError("the value is nested more than 20 levels deep")
        if value is None or isinstance(value, bool):
            return {"t": "json", "v": value}
        if isinstance(value, str):
            return {"t": "json", "v": str(value)}
        if isinstance(value, int):
            return {"t": "json", "v": int(value)}
        if isinstance(value, float):
            return {"t": "float", "v": repr(float(value))}
        np = sys.modules.get("numpy")
        if np is not None and isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return self.encode(value.item(), depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            kind = "set" if isinstance(value, (set, frozenset)) else "tuple" if isinstance(value, tuple) else "list"
            return {"t": kind, "items": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"t": "dict", "items": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if np is not None and isinstance(value, np.ndarray):
            return self._array(value, depth)
        pd = sys.modules.get("pandas")
        if pd is not None and isinstance(value, pd.DataFrame):
            return {"t": "frame", "index": self._column(value.index, depth),
                    "columns": [[self.encode(name, depth + 1), self._column(value[name], depth)]
                                for name in value.columns]}
        if pd is not None and isinstance(value, pd.Series):
            return {"t": "series", "name": self.encode(value.name, depth + 1),
                    "index": self._column(value.index, depth), "values": self._column(value, depth)}
        keras = sys.modules.get("keras")
        cls = type(value)
        if keras is not None and isinstance(value, keras.Model) and not self._has_notebook_layers(value):
            handle = self._handle(value)
            name = self._file(".keras")
            value.save(os.path.join(self.exchange, name))
            return {"t": "keras", "file": name, "handle": handle}
        if keras is not None and isinstance(value, keras.Model):
            # Built from the notebook's own layer classes, a model cannot be rebuilt by the
            # grader (safe mode loads library classes only): it stays here, and the tests
            # call its methods (predict, get_weights, count_params ...) through its handle.
            return {"t": "record", "handle": self._handle(value), "class": f"{cls.__module__}.{cls.__qualname__}",
                    "mro": [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]}
        if callable(value) and not isinstance(value, type):
            return {"t": "function", "handle": self._handle(value), "name": getattr(value, "__qualname__", cls.__name__)}
        return {"t": "record", "handle": self._handle(value),
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "mro": [f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__]}

    @staticmethod
    def _has_notebook_layers(model):
        """Whether a layer of ``model`` (at any depth) is of a class the notebook defined."""
        stack, seen = [model], set()
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            if type(layer).__module__ == "__main__":
                return True
            stack.extend(getattr(layer, "layers", []) or [])
        return False

    def _array(self, array, depth):
        import numpy as np
        if array.dtype.kind in "biufcmM":
            name = self._file(".npy")
            np.save(os.path.join(self.exchange, name), np.ascontiguousarray(array), allow_pickle=False)
            return {"t": "ndarray", "file": name}
        if array.dtype.kind in "UO" and array.size <= 1_000_000:
            return {"t": "objects", "shape": list(array.shape),
                    "items": [self.encode(v, depth + 1) for v in array.ravel().tolist()]}
        raise TypeError(f"an array of dtype {array.dtype} cannot be sent as plain data")

    def _column(self, column, depth):
        """One column (or index) of a data frame: its values, its dtype, its missing values."""
        import numpy as np
        import pandas as pd
        if isinstance(column, pd.RangeIndex):
            return {"t": "range", "start": int(column.start), "stop": int(column.stop), "step": int(column.step)}
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            categorical = pd.Categorical(column)
            return {"t": "category", "codes": self._array(np.asarray(categorical.codes), depth),
                    "categories": self._column(pd.Index(categorical.categories), depth),
                    "ordered": bool(dtype.ordered)}
        if isinstance(dtype, np.dtype) and dtype.kind in "biufmM":
            return {"t": "column", "values": self._array(np.asarray(column), depth)}
        if dtype.kind in "biuf":                   # pandas' nullable Int64, Float64, boolean
            return {"t": "masked", "dtype": str(dtype), "mask": self._array(np.asarray(column.isna()), depth),
                    "values": self._array(np.asarray(column.astype("float64").fillna(0)), depth)}
        values = [None if v is None or (isinstance(v, float) and v != v) else v for v in column.tolist()]
        return {"t": "text", "dtype": str(dtype), "items": [self.encode(v, depth + 1) for v in values]}

    # -- the grader's arguments to Python values -----------------------------------------
    def decode(self, item):
        kind = item["t"]
        if kind == "json":
            return item["v"]
        if kind == "float":
            return float(item["v"])
        if kind in ("list", "tuple", "set"):
            values = [self.decode(v) for v in item["items"]]
            return {"list": list, "tuple": tuple, "set": set}[kind](values)
        if kind == "dict":
            return {self.decode(k): self.decode(v) for k, v in item["items"]}
        if kind == "ndarray":
            import numpy as np
            return np.load(os.path.join(self.exchange, item["file"]), allow_pickle=False)
        if kind == "ref":
            return self.objects[item["handle"]]
        raise ValueError(f"cannot decode {kind!r}")
