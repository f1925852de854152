"""Conversation state in Redis: sessions, their history, and per-conversation locks."""
