"""The packaged sentence encoder."""

import numpy as np
import pytest

from lm.embeddings import EncoderError, get_encoder, resolve_encoder_path

pytestmark = pytest.mark.integration


def test_packaged_minilm_gives_unit_vectors():
    encoder = get_encoder("packaged:all-MiniLM-L6-v2")
    texts = ["where is my order", "when will my parcel arrive", "do you sell gift cards", "我的订单在哪里"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert encoder.id == "packaged:all-MiniLM-L6-v2#int8"


def test_batches_and_single_texts_give_the_same_vectors():
    encoder = get_encoder("packaged:all-MiniLM-L6-v2")
    texts = ["hi", "where is my order", "a much longer message about a parcel that has not arrived yet"]
    batch = encoder.encode(texts)
    single = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(batch, single, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_unknown_packaged_encoder_is_a_clear_error():
    with pytest.raises(EncoderError, match="unknown packaged encoder"):
        resolve_encoder_path("packaged:nope")
    assert resolve_encoder_path("/some/dir") == "/some/dir"
