"""Channels: where messages enter and replies leave. Each adapter only
translates; the bot core knows nothing about transports."""
