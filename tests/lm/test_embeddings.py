"""The packaged sentence encoder."""

import numpy as np
import pytest

from lm.embeddings import EncoderError, get_encoder, resolve_encoder_path

pytestmark = pytest.mark.integration


def test_packaged_minilm_gives_unit_vectors():
    encoder = get_encoder("packaged:all-MiniLM-L6-v2")
    vectors = encoder.encode(["where is my order", "track my package", "我的订单在哪里"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.4
    assert encoder.encode([]).shape == (0, 384)


def test_unknown_packaged_encoder_is_a_clear_error():
    with pytest.raises(EncoderError, match="unknown packaged encoder"):
        resolve_encoder_path("packaged:nope")
    assert resolve_encoder_path("/some/dir") == "/some/dir"
