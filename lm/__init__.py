"""Models: sentence embeddings and chat generation, loaded once per process."""
