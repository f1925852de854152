"""Dialogue: which actions answer a message, given the conversation so far."""
